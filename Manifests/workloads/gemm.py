"""Matrix products on the GPU through PyTorch: TFLOP/s in bf16, fp16 and tf32 (n × n × n, n = 8192)."""
import torch

from gpu_common import args, report, start, timed

a = args()
n = a.size or 8192
torch.backends.cuda.matmul.allow_tf32 = True
operands = {}
for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("tf32", torch.float32)):
    x = torch.randn(n, n, device="cuda", dtype=dtype)
    y = torch.randn(n, n, device="cuda", dtype=dtype)
    operands[name] = (x, y, torch.empty(n, n, device="cuda", dtype=dtype))
for _ in range(max(a.warmups, 1)):
    for x, y, out in operands.values():
        torch.matmul(x, y, out=out)
torch.cuda.synchronize()
start(a)
for rep in range(a.repetitions):
    for name, (x, y, out) in operands.items():
        seconds = timed(lambda: torch.matmul(x, y, out=out), 10, a.window)
        report(name, 2 * n**3 / seconds / 1e12, rep=rep)

"""STREAM-like copy and triad on the GPU through PyTorch: GB/s counting bytes read and written (1 GiB arrays)."""
import torch

from gpu_common import args, report, start, timed

a = args()
n = a.size or (1 << 28)  # float32: 1 GiB per array
x = torch.rand(n, device="cuda")
y = torch.rand(n, device="cuda")
z = torch.empty(n, device="cuda")
for _ in range(max(a.warmups, 1)):
    z.copy_(x)
    torch.add(y, x, alpha=3.0, out=z)
torch.cuda.synchronize()
start(a)
for rep in range(a.repetitions):
    copy = timed(lambda: z.copy_(x), 10, a.window)
    triad = timed(lambda: torch.add(y, x, alpha=3.0, out=z), 10, a.window)
    report("copy", 2 * 4 * n / copy / 1e9, rep=rep)
    report("triad", 3 * 4 * n / triad / 1e9, rep=rep)

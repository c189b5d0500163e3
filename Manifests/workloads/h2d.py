"""Host-to-device copies through PyTorch: GB/s from pinned and from pageable memory (256 MiB)."""
import torch

from gpu_common import args, report, start, timed

a = args()
n = a.size or (1 << 26)  # float32: 256 MiB
pinned = torch.rand(n).pin_memory()
pageable = torch.rand(n)
device = torch.empty(n, device="cuda")
for _ in range(max(a.warmups, 1)):
    device.copy_(pinned, non_blocking=True)
    device.copy_(pageable)
torch.cuda.synchronize()
start(a)
for rep in range(a.repetitions):
    report("pinned", 4 * n / timed(lambda: device.copy_(pinned, non_blocking=True), 5, a.window) / 1e9, rep=rep)
    report("pageable", 4 * n / timed(lambda: device.copy_(pageable), 5, a.window) / 1e9, rep=rep)

"""Kernel launch latency through PyTorch: microseconds per launch of a one-element add, 10 000 launches."""
import torch

from gpu_common import args, report, start, timed

a = args()
x = torch.zeros(1, device="cuda")
for _ in range(max(a.warmups, 1)):
    timed(lambda: x.add_(1), 1000)
start(a)
for rep in range(a.repetitions):
    report("latency", timed(lambda: x.add_(1), 10_000, a.window) * 1e6, rep=rep)

"""Shared by the GPU workloads: CUDA-event timing of a step, warm-ups excluded, the barrier before measuring."""
import torch

from common import args, report, wait_for  # noqa: F401  (re-exported for the workloads)


def timed(step, iterations: int) -> float:
    """Seconds per call of `step`, timed on the device with CUDA events around `iterations` calls."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000 / iterations

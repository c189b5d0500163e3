"""Shared by the GPU workloads: CUDA-event timing of a step, warm-ups excluded, the release before measuring."""
import torch

from common import args, report, start  # noqa: F401  (re-exported for the workloads)


def timed(step, iterations: int, window: float = 0) -> float:
    """Seconds per call of `step`, timed on the device with CUDA events around `iterations` calls; with a window
    (co-tenants), over as many calls as fit in that many seconds of wall-clock time after the release."""
    if window > 0:
        from common import seconds_per_step
        return seconds_per_step(step, iterations, window, sync=torch.cuda.synchronize)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000 / iterations

"""Shared by forbc's workload scripts: the start barrier and result lines."""
import json
import sys
import time


def wait_for(start_at: float) -> None:
    """All tenants of a run wait for the same instant, so they start together."""
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def report(metric: str, value: float, **extra) -> None:
    """One JSON line a measurement: what forbc's json-lines parser reads."""
    print(json.dumps({"metric": metric, "value": value, **extra}), flush=True)


def seconds_per_step(step, iterations: int, window: float, sync=lambda: None) -> float:
    """Seconds per call of `step`: `iterations` calls timed by the caller's clock, or, with a window, as many calls
    as fit in `window` seconds of wall-clock time (checked every `iterations` calls)."""
    sync()
    start = time.perf_counter()
    calls = 0
    while True:
        for _ in range(iterations):
            step()
        calls += iterations
        sync()
        elapsed = time.perf_counter() - start
        if window <= 0 or elapsed >= window:
            return elapsed / calls


def args(argv=None):
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0)
    parser.add_argument("--size", type=int, default=0)
    # With co-tenants, every copy measures the same wall-clock window after the barrier, so their rates add up.
    parser.add_argument("--window", type=float, default=0)
    return parser.parse_args(argv if argv is not None else sys.argv[1:])

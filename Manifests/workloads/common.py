"""Shared by forbc's workload scripts: the co-tenants' release (or the older start barrier) and result lines."""
import json
import os
import sys
import time

# The wall-clock instants (UNIX time) the last `seconds_per_step` window started and ended, and when the next one
# starts: windows follow each other on one schedule from the start (release), so co-tenants' windows stay aligned
# (a window that overran by a step makes the next one shorter, not later).
last_window = {"start": 0.0, "end": 0.0}
schedule = {"next": None}


def wait_for(start_at: float) -> None:
    """The older barrier (profiles without {sync}): all tenants of a launch wait for the same instant."""
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def release(sync: str, tenant: str, timeout: float = 900) -> None:
    """forbc's release of co-tenants: called once this tenant has imported, allocated and warmed up. It appends
    "TENANT TIME" to SYNC/ready, then waits for forbc to create SYNC/go, which it does when every tenant is ready or
    has ended; then it prints when it was ready and when it saw `go`, for forbc's record of the release. It waits
    `timeout` seconds at most (forbc's --sync-timeout: as long as forbc may take to write `go`), then exits non-zero,
    so a tenant whose `go` never comes does not go on running. A lone tenant gets no folder and waits for nobody."""
    if not sync:
        return
    os.makedirs(sync, exist_ok=True)
    ready = time.time()
    # One short append: whole lines even when tenants write at once (O_APPEND).
    with open(os.path.join(sync, "ready"), "a") as f:
        f.write(f"{tenant} {ready:.6f}\n")
    go = os.path.join(sync, "go")
    # Every millisecond, so that co-tenants see `go` within about a millisecond of each other; `go` counts once it
    # holds its whole line (a guest agent's write is an open, a write and a close, and may be cut short).
    while not released(go):
        if time.time() - ready > timeout:
            raise SystemExit(f"forbc did not release the tenants: no {go} after {timeout:g} s")
        time.sleep(0.001)
    seen = time.time()
    print(json.dumps({"event": "released", "tenant": int(tenant), "ready": ready, "seen": seen}), flush=True)


def released(go: str) -> bool:
    """Whether forbc's `go` is there, whole (one line, ending with its newline)."""
    try:
        with open(go) as f:
            return f.read().endswith("\n")
    except FileNotFoundError:
        return False


def start(a) -> None:
    """Waits for the start of the measurement: forbc's release (--sync), or the older --start-at instant."""
    wait_for(a.start_at)
    release(a.sync, a.tenant, a.sync_timeout)
    schedule["next"] = time.time()


def report(metric: str, value: float, **extra) -> None:
    """One JSON line a measurement: what forbc's json-lines parser reads."""
    print(json.dumps({"metric": metric, "value": value, **extra}), flush=True)


def window_times() -> dict:
    """The last window's start and end (UNIX time), as extra fields of a result line."""
    return {"start": last_window["start"], "end": last_window["end"]}


def seconds_per_step(step, iterations: int, window: float, sync=lambda: None) -> float:
    """Seconds per call of `step`: `iterations` calls timed by the caller's clock, or, with a window, as many calls
    as fit in the next `window` seconds of wall-clock time on the schedule that `start` began (checked every
    `iterations` calls; at least `iterations` calls)."""
    sync()
    now = time.time()
    last_window["start"] = now
    start = time.perf_counter()
    goal = window
    if window > 0 and schedule["next"] is not None:
        schedule["next"] += window
        goal = schedule["next"] - now
    calls = 0
    while True:
        for _ in range(iterations):
            step()
        calls += iterations
        sync()
        elapsed = time.perf_counter() - start
        if window <= 0 or elapsed >= goal:
            last_window["end"] = time.time()
            return elapsed / calls


def args(argv=None):
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0)
    # forbc's release: the rendezvous folder (empty when alone) and this tenant's index in the launch.
    parser.add_argument("--sync", default="")
    parser.add_argument("--tenant", default="0")
    # How long to wait for forbc's `go` at most (forbc's {sync_timeout}; profiles without it: 900 s).
    parser.add_argument("--sync-timeout", type=float, default=900)
    parser.add_argument("--size", type=int, default=0)
    # With co-tenants, every copy measures the same wall-clock window after the release, so their rates add up.
    parser.add_argument("--window", type=float, default=0)
    return parser.parse_args(argv if argv is not None else sys.argv[1:])

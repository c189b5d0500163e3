"""A workload that misbehaves on purpose: crash, hang, garbage, nothing, or good output (for the runner's tests).
It takes part in forbc's co-tenant release as Manifests/workloads/common.py does (--sync DIR --tenant N: "N TIME"
appended to DIR/ready, then wait for DIR/go), or waits for --start-at; a crash or a hang happens before it is
ready, so its co-tenants must be released without it."""
import json
import os
import sys
import time

mode = sys.argv[1]
options = dict(zip(sys.argv[2::2], sys.argv[3::2]))


def start() -> None:
    delay = float(options.get("--start-at", 0)) - time.time()
    if delay > 0:
        time.sleep(delay)
    sync = options.get("--sync", "")
    if not sync:
        return
    os.makedirs(sync, exist_ok=True)
    ready = time.time()
    with open(os.path.join(sync, "ready"), "a") as f:
        f.write(f"{options['--tenant']} {ready:.6f}\n")
    while not os.path.exists(os.path.join(sync, "go")):
        time.sleep(0.001)
    event = {"event": "released", "tenant": int(options["--tenant"]), "ready": ready, "seen": time.time()}
    print(json.dumps(event), flush=True)


if mode == "crash":
    print('{"metric": "score", "value": 1.0}')
    raise SystemExit(3)
if mode == "hang":
    time.sleep(600)
start()
if mode == "garbage":
    print("score: lots\n{not json}\n[1, 2, 3]")
if mode == "nothing":
    pass
if mode == "good":
    for v in (10.0, 11.0, 10.5):
        print(json.dumps({"metric": "score", "value": v}))
    print("chatter that is not a result")
if mode == "regex":
    print("Result: 42.5 things/s\nResult: 43.5 things/s")

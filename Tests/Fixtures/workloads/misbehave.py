"""A workload that misbehaves on purpose: crash, hang, garbage, nothing, or good output (for the runner's tests)."""
import json
import sys
import time

mode = sys.argv[1]
if mode == "crash":
    print('{"metric": "score", "value": 1.0}')
    raise SystemExit(3)
if mode == "hang":
    time.sleep(600)
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

#!/usr/bin/env python3
"""forbc's harness against the same PyTorch code timed bare, in one run: the ratio of medians per metric and the
wall time the harness adds. Usage: overhead.py BARE_DIR HARNESS.jsonl BARE_SECONDS HARNESS_SECONDS."""
import glob
import json
import statistics
import sys

bare_dir, harness_file, bare_seconds, harness_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
bare = {}
for path in glob.glob(f"{bare_dir}/*.out"):
    workload = path.split("/")[-1].split("-")[0]
    for line in open(path):
        if line.startswith("{"):
            r = json.loads(line)
            bare.setdefault((workload, r["metric"]), []).append(r["value"])
harness = {}
for line in open(harness_file):
    r = json.loads(line)
    if r["topology"] == "overhead-harness" and r["status"] == "ok":
        harness[(r["workload"], r["metric"])] = json.loads(r["values"])
worst = 0.0
for key in sorted(bare):
    if key not in harness:
        continue
    b, h = statistics.median(bare[key]), statistics.median(harness[key])
    worst = max(worst, abs(h / b - 1))
    print(f"overhead {key[0]}/{key[1]}: bare median {b:.2f}, harness median {h:.2f}, ratio {h / b:.4f}")
print(f"overhead worst |ratio - 1|: {worst * 100:.2f}% (target <= 3%)")
print(f"overhead wall: bare {bare_seconds:.1f} s, harness {harness_seconds:.1f} s, added {(harness_seconds / bare_seconds - 1) * 100:.2f}% (target <= 1%)")

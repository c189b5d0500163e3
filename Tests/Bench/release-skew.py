#!/usr/bin/env python3
"""Measures forbc's co-tenant release on this machine: `forbc bench run` of cpu-gemm with 2, 3 and 7 host tenants,
then, from each launch's release record (bench-logs/RUN/release-*.json), the release skew (spread of the instants
tenants saw `go`), how long tenants waited between ready and `go`, and how long after the launch's start the
release came; and, from the tenants' logs, how much of each repetition's window all tenants shared.
    python3 Tests/Bench/release-skew.py [--forbc .build/debug/forbc] [--launches 3] [--tenants 2,3,7]"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser = argparse.ArgumentParser()
parser.add_argument("--forbc", default=os.path.join(repo, ".build/debug/forbc"))
parser.add_argument("--launches", type=int, default=3)
parser.add_argument("--tenants", default="2,3,7")
a = parser.parse_args()
counts = [int(n) for n in a.tenants.split(",")]
state = tempfile.mkdtemp(prefix="release-skew-")
manifest = os.path.join(state, "skew.yaml")
with open(manifest, "w") as f:
    f.write("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: skew}\nspec:\n  benchmarks:\n")
    for n in counts:
        f.write(f"    - {{suite: t{n}, workloads: [cpu-gemm], repetitions: 2, tenants: {n}}}\n")
subprocess.run(
    [a.forbc, "bench", "run", manifest, "--workloads", os.path.join(repo, "Manifests/workloads"), "--state-dir",
     state, "--launches", str(a.launches), "--max-launches", str(a.launches)],
    check=True, stdout=subprocess.DEVNULL)
print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; cpu-gemm, 2 repetitions of 1 s windows a launch")
print("tenants  launches  skew ms (median, max)  waited s (max)  released after s (median)  shared window (min)")
for n in counts:
    records = [json.load(open(p)) for p in sorted(glob.glob(f"{state}/bench-logs/*/release-t{n}-cpu-gemm-*.json"))]
    skews = [r["skew"] * 1000 for r in records if r["skew"] is not None]
    waited = [w for r in records for w in r["waited"] if w is not None]
    shared = []
    for launch in range(len(records)):
        rows = []
        for log in glob.glob(f"{state}/bench-logs/*/t{n}-cpu-gemm-host_*-{launch}.log"):
            rows += [json.loads(line) for line in open(log) if line.startswith('{"metric"')]
        for rep in {r["rep"] for r in rows}:
            mine = [r for r in rows if r["rep"] == rep]
            shared.append(min(r["end"] for r in mine) - max(r["start"] for r in mine))
    print(f"{n:7d}  {len(records):8d}  {statistics.median(skews):9.2f} {max(skews):8.2f}  {max(waited):14.3f}"
          f"  {statistics.median(r['releasedAfter'] for r in records):25.3f}  {min(shared):8.3f} s")

#!/usr/bin/env bash
# On the lent GPU machine (run tool; 16 cores, a real kernel): Tests/Bench/speed.sh's side-by-side part, forbc
# discover beside mdevctl list/types on the same fake sysfs trees, with the forbc, mdevctl and hyperfine carried in
# .build-device/bundle.tar.xz (Tests/Bench/device-bundle.sh; FORBC_BIN=... packs an existing release build). Reads
# only files it makes under /tmp; the trees are mounted over /sys in a private mount namespace, never the host's.
#   run: bash Tests/Bench/h100-speed.sh     (carry .build-device; the table lands in $OUT/speed.txt)
set -euo pipefail
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
export LD_LIBRARY_PATH=$B/lib PATH=$B/tools:$PATH
# mdevctl 1.2 lists its configuration directory too; a bare machine has none.
[ -d /etc/mdevctl.d ] || mkdir -p /etc/mdevctl.d
out=${OUT:-/tmp}
{
    echo "$(nproc) cores; $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    FORBC_BIN=$B/forbc RUNS=${RUNS:-200} bash Tests/Bench/speed.sh
} > "$out/speed.txt" 2>&1
cat "$out/speed.txt"

#!/usr/bin/env bash
# On the lent GPU machine (run tool; 16 cores, a real kernel): Tests/Bench/speed.sh's side-by-side part, forbc
# discover beside mdevctl list/types on the same fake sysfs trees, with the forbc, mdevctl and hyperfine carried in
# .build-device/bundle.tar.xz (Tests/Bench/device-bundle.sh; FORBC_BIN=... packs an existing release build). The
# trees are made under /tmp and mounted over /sys in a private mount namespace, never the machine's own; the only
# other change is mdevctl's empty configuration folders under /etc/mdevctl.d (a lent machine starts bare).
#   run: bash Tests/Bench/h100-speed.sh     (carry .build-device; the table lands in $OUT/speed.txt)
set -euo pipefail
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
# Only the libraries forbc itself links (the bundle's others, libvirt's chain, would shadow the machine's own for
# mount and the rest): links to them in a folder of their own.
mkdir -p "$B/flib"
LD_LIBRARY_PATH=$B/lib ldd "$B/forbc" | awk -v lib="$B/lib/" 'index($3, lib) == 1 {print $3}' |
    while read -r path; do ln -sf "$path" "$B/flib/"; done
export LD_LIBRARY_PATH=$B/flib PATH=$B/tools:$PATH
# mdevctl 1.2 wants its configuration and callout folders; a bare machine has none.
mkdir -p /etc/mdevctl.d/scripts.d/callouts /etc/mdevctl.d/scripts.d/notifiers
out=${OUT:-/tmp}
{
    echo "$(nproc) cores; $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    FORBC_BIN=$B/forbc RUNS=${RUNS:-200} bash Tests/Bench/speed.sh
} > "$out/speed.txt" 2>&1
cat "$out/speed.txt"

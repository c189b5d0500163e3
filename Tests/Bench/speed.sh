#!/usr/bin/env bash
# forbc's speed beside mdevctl, and its scaling; prints figures, asserts nothing (Tests/Bench/README: speed).
#
#   bash Tests/Bench/speed.sh            # builds the release binaries (static Swift stdlib) unless SKIP_BUILD=1
#
# 1. Fake sysfs trees in the kernel's layout (Tests/Bench/make-tree.py: 8 A40-class GPUs, 29 mdev types each; 16 and
#    64 mdevs per GPU). `forbc discover --root TREE --output json` against mdevctl's `list --dumpjson` and
#    `types --dumpjson`, side by side with hyperfine. mdevctl (Debian's, 1.2) has no root option: everything runs in
#    a private mount namespace (`unshare -m`) with the tree bind-mounted over /sys, so both read the same files;
#    /run/libvirt is hidden there too, so that forbc's look at libvirt's domains fails as on a host without libvirtd
#    rather than asking the libvirtd this machine may be running. Needs root, hyperfine and mdevctl
#    (apt-get install hyperfine mdevctl).
# 2. `forbc --version` (start-up alone).
# 3. forbc-scale: plan and drift on converged simulated hosts of 512, 8,192 and 64,000 partitions, apply of
#    512 / 2,048 / 8,192.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-300}
warmup=${WARMUP:-30}
for tool in hyperfine mdevctl unshare python3; do
    command -v "$tool" >/dev/null || { echo "speed.sh: needs '$tool' (apt-get install hyperfine mdevctl)" >&2; exit 1; }
done
if [ "$(id -u)" != 0 ]; then echo "speed.sh: needs root (a mount namespace for mdevctl)" >&2; exit 1; fi
# FORBC_BIN: a forbc built elsewhere (the lent GPU machine has no Swift: Tests/Bench/h100-speed.sh); then only the
# side-by-side part runs (forbc-scale needs the toolchain's build).
if [ -n "${FORBC_BIN:-}" ]; then
    forbc=$FORBC_BIN
else
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        swift build -c release --static-swift-stdlib --product forbc
        swift build -c release --static-swift-stdlib --product forbc-scale
    fi
    bin=$(swift build -c release --show-bin-path)
    forbc=$bin/forbc
fi
work=$(mktemp -d /tmp/forbc-speed.XXXXXX)
trap 'rm -rf "$work"' EXIT
for mdevs in 16 64; do python3 Tests/Bench/make-tree.py "$work/t$mdevs" 8 "$mdevs"; done
# A root with an empty sysfs: what a discovery costs before it reads any device (start-up, options, output).
mkdir -p "$work/state" "$work/empty" "$work/t0/sys"

echo "forbc: $forbc ($(stat -c %s "$forbc") bytes; $(ldd "$forbc" | wc -l) shared libraries at launch)"
echo "mdevctl: $(mdevctl --version); hyperfine $(hyperfine --version | cut -d' ' -f2); $(nproc) cores;" \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"

# Inside the namespace: each tree over /sys in turn, hyperfine without a shell, results as JSON.
cat >"$work/inside.sh" <<EOF
set -eu
mount --bind "$work/empty" /run/libvirt 2>/dev/null || true
for mdevs in 16 64; do
    mount --bind "$work/t\$mdevs/sys" /sys
    # The outputs must be about the tree: forbc's mdevs are mdevctl's.
    "$forbc" discover --root "$work/t\$mdevs" --output json --state-dir "$work/state" 2>/dev/null >"$work/forbc-\$mdevs.json"
    mdevctl list --dumpjson >"$work/mdevctl-\$mdevs.json"
    hyperfine -N --style none --warmup $warmup --runs $runs --export-json "$work/h-\$mdevs.json" \\
        "mdevctl list --dumpjson" "mdevctl types --dumpjson" \\
        "$forbc discover --root $work/t\$mdevs --output json --state-dir $work/state" >/dev/null 2>&1
    umount /sys
done
# The same discovery where libvirt is not installed (its libraries hidden): what consulting libvirt costs.
virt=\$(ldconfig -p | awk '/libvirt.so.0 /{print \$NF; exit}')
qemu=\$(ldconfig -p | awk '/libvirt-qemu.so.0 /{print \$NF; exit}')
# (where libvirt is not installed at all, as on the lent GPU machine, there is nothing to hide)
[ -z "\$virt" ] || mount --bind /dev/null "\$virt"
[ -z "\$qemu" ] || mount --bind /dev/null "\$qemu"
for mdevs in 16 64; do
    hyperfine -N --style none --warmup $warmup --runs $runs --export-json "$work/n-\$mdevs.json" \\
        "$forbc discover --root $work/t\$mdevs --output json --state-dir $work/state" >/dev/null 2>&1
done
[ -z "\$virt" ] || umount "\$virt"
[ -z "\$qemu" ] || umount "\$qemu"
hyperfine -N --style none --warmup $warmup --runs $runs --export-json "$work/h-version.json" \\
    "$forbc --version" "mdevctl --version" "$forbc discover --root $work/t0 --output json --state-dir $work/state" \\
    >/dev/null 2>&1
# Devices are read side by side on the free cores; on one core discovery is what it costs in CPU.
mount --bind "$work/t16/sys" /sys
hyperfine -N --style none --warmup $warmup --runs $runs --export-json "$work/one-core.json" \\
    "taskset -c 0 mdevctl list --dumpjson" \\
    "taskset -c 0 $forbc discover --root $work/t16 --output json --state-dir $work/state" >/dev/null 2>&1
umount /sys
EOF
unshare -m --propagation private bash "$work/inside.sh"

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
def load(name):
    return {r["command"]: r for r in json.load(open(f"{work}/{name}"))["results"]}
def ms(r):
    return f'{r["median"] * 1e3:6.2f} ms (mean {r["mean"] * 1e3:.2f} ± {r["stddev"] * 1e3:.2f})'
print()
print("| tree (8 A40-class GPUs, 29 types each) | mdevctl list --dumpjson | mdevctl types --dumpjson "
      "| forbc discover --root TREE --output json | forbc / list | forbc / types |")
print("| --- | --- | --- | --- | --- | --- |")
for mdevs in (16, 64):
    results = load(f"h-{mdevs}.json")
    lst = results["mdevctl list --dumpjson"]
    types = results["mdevctl types --dumpjson"]
    forbc = next(r for c, r in results.items() if "discover" in c)
    found = len(json.load(open(f"{work}/forbc-{mdevs}.json"))["mdevs"])
    listed = sum(len(p) for entry in json.load(open(f"{work}/mdevctl-{mdevs}.json")) for p in entry.values())
    assert found == listed == 8 * mdevs, (found, listed)
    print(f"| 8 × {mdevs} mdevs | {ms(lst)} | {ms(types)} | {ms(forbc)} | "
          f"{forbc['median'] / lst['median']:.2f} | {forbc['median'] / types['median']:.2f} |")
    bare = next(iter(load(f"n-{mdevs}.json").values()))
    print(f"| 8 × {mdevs}, libvirt not installed | | | {ms(bare)} | "
          f"{bare['median'] / lst['median']:.2f} | {bare['median'] / types['median']:.2f} |")
version = load("h-version.json")
print()
for command, r in version.items():
    label = "forbc discover of an empty sysfs" if "discover" in command else command.split('/')[-1]
    print(f"{label}: median {ms(r)}")
one = load("one-core.json")
md, fb = (next(r for c, r in one.items() if key in c) for key in ("mdevctl", "discover"))
print(f"one core (taskset -c 0), 8 × 16: mdevctl list {ms(md)}, forbc discover {ms(fb)}, "
      f"ratio {fb['median'] / md['median']:.2f}")
print("(medians of hyperfine runs; ratios of medians; below 1 is forbc faster)")
EOF
[ -n "${FORBC_BIN:-}" ] && exit 0
echo
"$bin/forbc-scale"

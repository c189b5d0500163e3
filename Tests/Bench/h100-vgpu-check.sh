#!/usr/bin/env bash
# On the lent H100 (the device tool; carry .build-device with the bundle from Tests/Bench/device-bundle.sh): does
# forbc's discovery with the vGPU calls (scheduler, heterogeneous mode, supported vGPU types) work against a real
# NVIDIA driver that has no vGPU manager, and are a vGPU scheduler and a MIG-backed vGPU declared there refused by
# plan with located errors? Read-only: discover and plan only, MIG mode and the card's settings are never touched
# (nvidia-smi is only queried, before and after). Writes everything under $OUT (kept in
# Tests/Fixtures/nvidia-h100-80gb-hbm3/vgpu-check/, read by DeviceRunTests).
set -uo pipefail
OUT=${OUT:?run through the device tool}
work=$(mktemp -d)
tar xJf "${BUNDLE:-.build-device/bundle.tar.xz}" -C "$work"
export LD_LIBRARY_PATH=$work/lib
forbc=$work/forbc
fixtures=Tests/Fixtures/nvidia-h100-80gb-hbm3/vgpu-check
query='name,pci.bus_id,mig.mode.current,mig.mode.pending,driver_version'
{
    echo "## before"; nvidia-smi --query-gpu=$query --format=csv
    "$forbc" --version
} > "$OUT/run-info.txt" 2>&1
nvidia-smi vgpu > "$OUT/nvidia-smi-vgpu.txt" 2>&1; echo "nvidia-smi vgpu rc=$?" >> "$OUT/run-info.txt"
"$forbc" discover --output json > "$OUT/forbc-discover.json" 2> "$OUT/forbc-discover.stderr.txt"
echo "discover rc=$?" >> "$OUT/run-info.txt"
"$forbc" discover > "$OUT/forbc-discover.txt" 2>&1; echo "discover text rc=$?" >> "$OUT/run-info.txt"
for manifest in scheduler mig-backed; do
    "$forbc" plan "$fixtures/$manifest.yaml" > "$OUT/plan-$manifest.txt" 2>&1
    echo "plan $manifest rc=$?" >> "$OUT/run-info.txt"
done
# With libvirt's test driver, past the domain check the scheduler needs, to NVML's answer.
"$forbc" plan "$fixtures/scheduler.yaml" --libvirt test:///default > "$OUT/plan-scheduler-test-driver.txt" 2>&1
echo "rc=$?" >> "$OUT/plan-scheduler-test-driver.txt"
{ echo "## after"; nvidia-smi --query-gpu=$query --format=csv; } >> "$OUT/run-info.txt" 2>&1
cat "$OUT/run-info.txt"; tail -n 3 "$OUT"/plan-*.txt "$OUT/forbc-discover.stderr.txt"
rm -rf "$work"

#!/usr/bin/env bash
# On the lent H100 (run tool): Manifests/campaign-h100.yaml through one 'forbc bench campaign' (this replaced
# Tests/Bench/h100-run.sh), with the static forbc of Tests/Bench/device-bundle.sh (.build-device/bundle.tar.xz).
# Before anything changes it plans every topology and the host's own export and stops unless every action is an MPS
# one: no MIG, clock, compute-mode or persistence change, ever. The graphics workload needs moderngl (wheels in .whl)
# and the GL loaders (.gl/*.deb, see the device README); without them its results are failures, the rest runs.
# What comes back in $OUT (8 files at most): campaign.log, compare.txt, report.html (the campaign's report),
# results.jsonl (bench export), figures.tar.gz, host.txt (export and discover before and after), logs.tar.gz (the
# workloads' logs) and state.tar.gz (the store and the campaign's folder: carried back in as
# .build-device/campaign-state.tar.gz, a second call continues an interrupted campaign with --resume).
#   FORBC_SIMULATE=nvidia-h100   rehearse here on a simulated H100 (the GPU workloads fail without one)
#   FORBC_CAMPAIGN_SECONDS=500   SIGTERM the campaign then (it restores the host; --resume continues it)
set -u
OUT=${OUT:?the folder the results go to}
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
export LD_LIBRARY_PATH=$B/lib NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
F=$B/forbc
S=${FORBC_STATE:-/tmp/forbc-campaign-state}
C=Manifests/campaign-h100.yaml
sim=()
[ -n "${FORBC_SIMULATE:-}" ] && sim=(--simulate "$FORBC_SIMULATE")
host=(--state-dir "$S" "${sim[@]}")
log=$OUT/campaign.log
mkdir -p "$S"
: > "$log"
if [ -f .build-device/campaign-state.tar.gz ]; then
    tar xzf .build-device/campaign-state.tar.gz -C "$S"
    echo "state of an earlier call unpacked into $S" >> "$log"
fi
if [ -z "${FORBC_SIMULATE:-}" ] && [ -d .whl ] && [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        >> "$log" 2>&1 && export PYTHONPATH=/tmp/site
    egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
fi
{
    date -u
    nvidia-smi --query-gpu=name,uuid,driver_version,mig.mode.current,compute_mode --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
    python3 -c 'import moderngl; print("moderngl", moderngl.__version__)'
    "$F" --version
} >> "$log" 2>&1
# Safety: the host's own export and every topology planned from the host as it is; only MPS actions may appear.
"$F" export "${host[@]}" > /tmp/forbc-before.yaml 2>> "$log"
for m in /tmp/forbc-before.yaml Manifests/campaigns/h100/*.yaml; do
    "$F" plan "$m" "${host[@]}" --output json > /tmp/forbc-plan.json 2>> "$log"
    python3 - "$m" >> "$log" 2>&1 <<'PY'
import json, sys
try:
    actions = json.load(open("/tmp/forbc-plan.json"))["actions"]
except Exception as error:
    print(sys.argv[1], "has no plan:", error)
    sys.exit(2)
print(sys.argv[1], "plans", [f"{a['action']} {a['kind']} {a['target']}" for a in actions])
sys.exit(0 if all(a["kind"] == "mps" for a in actions) else 1)
PY
    verdict=$?
    # The host's own export may not plan (nothing to declare); a topology must, and only MPS may change.
    if [ $verdict = 1 ] || { [ $verdict = 2 ] && [ "$m" != /tmp/forbc-before.yaml ]; }; then
        echo "$m: an action other than an MPS one, or no plan: stopping before anything changes" | tee -a "$log"
        exit 1
    fi
done
hostview() { "$F" export "${host[@]}"; "$F" discover "${host[@]}"; }
hostview > /tmp/forbc-host-before.txt 2>> "$log"
resume=()
grep -qs '"complete" : false' "$S/campaign-h100/progress.json" && resume=(--resume)
echo "== forbc bench campaign $C ${resume[*]}" >> "$log"
start=$(date +%s)
timeout -s TERM "${FORBC_CAMPAIGN_SECONDS:-500}" "$F" bench campaign "$C" "${host[@]}" --yes "${resume[@]}" \
    --report "$OUT/report.html" >> "$log" 2>&1
echo "-- exit $? after $(($(date +%s) - start)) s" >> "$log"
hostview > /tmp/forbc-host-after.txt 2>> "$log"
{
    echo "== before"; cat /tmp/forbc-host-before.txt
    echo "== after"; cat /tmp/forbc-host-after.txt
    cmp -s /tmp/forbc-host-before.txt /tmp/forbc-host-after.txt && echo "== identical" || echo "== DIFFERENT"
    echo "== drift against the export taken before"
    "$F" drift /tmp/forbc-before.yaml "${host[@]}"; echo "-- exit $?"
} > "$OUT/host.txt" 2>&1
ps -e -o pid,stat,comm | grep -i mps >> "$OUT/host.txt" || echo "no MPS process left" >> "$OUT/host.txt"
"$F" bench compare --state-dir "$S" --baseline full-gpu > "$OUT/compare.txt" 2>&1
"$F" bench report --state-dir "$S" --baseline full-gpu --out /tmp/forbc-report.html --figures /tmp/figures \
    >> "$log" 2>&1
tar czf "$OUT/figures.tar.gz" -C /tmp figures 2>/dev/null
"$F" bench export --state-dir "$S" --out "$OUT/results.jsonl" >> "$log" 2>&1
tar czf "$OUT/logs.tar.gz" -C "$S" bench-logs 2>/dev/null
tar czf "$OUT/state.tar.gz" -C "$S" --exclude=bench-logs . 2>/dev/null
grep -E "^campaign: .*(converged|restor|resum|interrupt)|^error|exit" "$log" | tail -20
cat "$OUT/compare.txt"
tail -3 "$OUT/host.txt"

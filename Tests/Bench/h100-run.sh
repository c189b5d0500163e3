#!/usr/bin/env bash
# Superseded by Tests/Bench/h100-campaign.sh (one 'forbc bench campaign Manifests/campaign-h100.yaml', MPS managed
# by forbc); kept because Tests/Fixtures/h100-bench was made by it.
# On the lent H100 (run tool): the bench-h100 topologies with a static forbc build carried as
# .build-device/bundle.tar.xz (made by Tests/Bench/device-bundle.sh); results, comparison and report land in $OUT as
# they come. Reads and workloads only: no MIG, clock, compute-mode or persistence change. MPS is started and stopped
# here. The store is kept in $OUT's results.jsonl between calls: a later phase imports what an earlier one exported.
#   FORBC_PHASE=window   the lone GPU timed by a wall-clock window (the co-tenants' baseline), 2/4/7 time-sliced
#   FORBC_PHASE=mps      MPS 2x50 and 7x14, and the lone GPU timed by CUDA events (its own method)
#   FORBC_PHASE=all      both (longer than one call allows on a loaded machine)
# The mps phase ends with the graphics suite (render, render-heavy through EGL), when moderngl is importable (carried as
# wheels in .whl) and the GL loaders are there (carried as .gl/*.deb, see the device README).
# FORBC_LAUNCHES (default 4) launches per workload and topology: the device time a session has is the limit.
set -u
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
export LD_LIBRARY_PATH=$B/lib NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
F=$B/forbc
S=/tmp/forbc-state
M=Manifests/bench-h100.yaml
PHASE=${FORBC_PHASE:-all}
N=${FORBC_LAUNCHES:-4}
run=(bench run --state-dir "$S" "$M" --launches "$N" --max-launches "$N")
log=$OUT/run-$PHASE.log
# Results of an earlier phase (its results.jsonl, carried in as .build-device/h100-previous.jsonl) join this store.
[ -f .build-device/h100-previous.jsonl ] && "$F" bench import --state-dir "$S" .build-device/h100-previous.jsonl > "$log" 2>&1
finish() {
    "$F" bench compare --state-dir "$S" --baseline full-gpu > "$OUT/compare.txt" 2>&1
    "$F" bench report --state-dir "$S" --baseline full-gpu --out "$OUT/report.html" --figures "$OUT/figures" \
        >> "$log" 2>&1
    "$F" bench export --state-dir "$S" --out "$OUT/results.jsonl" >> "$log" 2>&1
    tar czf "$OUT/logs-$PHASE.tar.gz" -C "$S" bench-logs 2>/dev/null
    tar czf "$OUT/figures.tar.gz" -C "$OUT" figures 2>/dev/null && rm -rf "$OUT/figures"
}
{
    date -u
    nvidia-smi --query-gpu=name,uuid,driver_version,mig.mode.current,compute_mode --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
    "$F" --version
} >> "$log" 2>&1
if [ "$PHASE" = window ] || [ "$PHASE" = all ]; then
    "$F" "${run[@]}" --suite lone --topology full-gpu --window-always >> "$log" 2>&1; finish
    for n in 2 4 7; do "$F" "${run[@]}" --suite "ts$n" --topology "time-sliced-$n" >> "$log" 2>&1; finish; done
fi
if [ "$PHASE" = mps ] || [ "$PHASE" = all ]; then
    # CUDA MPS, started by this command and stopped at the end.
    export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    nvidia-cuda-mps-control -d >> "$log" 2>&1
    CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50 "$F" "${run[@]}" --suite mps2 --topology mps-2x50 >> "$log" 2>&1
    CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=14 "$F" "${run[@]}" --suite mps7 --topology mps-7x14 >> "$log" 2>&1
    echo quit | nvidia-cuda-mps-control >> "$log" 2>&1
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    finish
    "$F" "${run[@]}" --suite lone --topology full-gpu >> "$log" 2>&1
    finish
    if [ -d .whl ] && [ -d .gl ]; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
        egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
        [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
        PYTHONPATH=/tmp/site "$F" "${run[@]}" --suite graphics --topology full-gpu >> "$log" 2>&1
        finish
    fi
fi
cat "$OUT/compare.txt"
grep -E "harness took|release|warn" "$log" | tail -20

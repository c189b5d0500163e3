#!/usr/bin/env bash
# On the lent H100 (run tool): the bench-h100 topologies with a static forbc build carried as
# .build-device/bundle.tar.xz; results, comparison, report and overhead figures land in $OUT as they come.
# Reads and workloads only: no MIG, clock, compute-mode or persistence change. MPS is started and stopped here.
set -u
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
export LD_LIBRARY_PATH=$B/lib NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
F=$B/forbc
S=/tmp/forbc-state
M=Manifests/bench-h100.yaml
run=(bench run --state-dir "$S" "$M" --launches 2 --max-launches 2)
log=$OUT/run.log
finish() {
    "$F" bench compare --state-dir "$S" --baseline "${FORBC_BASELINE:-full-gpu}" > "$OUT/compare.txt" 2>&1
    "$F" bench report --state-dir "$S" --baseline "${FORBC_BASELINE:-full-gpu}" --out "$OUT/report.html" >> "$log" 2>&1
    "$F" bench export --state-dir "$S" --out "$OUT/results.jsonl" >> "$log" 2>&1
    "$F" bench export --state-dir "$S" --format phoronix --out "$OUT/composite.xml" >> "$log" 2>&1
    tar czf "$OUT/logs.tar.gz" -C "$S" bench-logs 2>/dev/null
}
{
    date -u
    nvidia-smi --query-gpu=name,uuid,driver_version,mig.mode.current,compute_mode --format=csv
    python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, torch.cuda.get_device_name(0))'
    "$F" --version
} > "$log" 2>&1
# FORBC_ONLY=overhead runs the overhead comparison alone.
if [ "${FORBC_ONLY:-}" != overhead ]; then
"$F" "${run[@]}" --suite full --topology full-gpu >> "$log" 2>&1; finish
for n in 2 4 7; do "$F" "${run[@]}" --suite "ts$n" --topology "time-sliced-$n" >> "$log" 2>&1; done; finish
# CUDA MPS, started by this command and stopped at the end.
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
nvidia-cuda-mps-control -d >> "$log" 2>&1
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50 "$F" "${run[@]}" --suite mps2 --topology mps-2x50 >> "$log" 2>&1
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=14 "$F" "${run[@]}" --suite mps7 --topology mps-7x14 >> "$log" 2>&1
echo quit | nvidia-cuda-mps-control >> "$log" 2>&1
unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
finish
fi
[ -n "${FORBC_SKIP_OVERHEAD:-}" ] && { finish; exit 0; }
# Overhead: the same code bare (3 launches each) and through forbc (3 launches), one after the other.
mkdir -p /tmp/bare
t0=$(date +%s.%N)
for i in 1 2 3; do
    python3 Manifests/workloads/gemm.py --repetitions 5 --warmups 1 > "/tmp/bare/gemm-$i.out" 2>&1
    python3 Manifests/workloads/stream.py --repetitions 5 --warmups 1 > "/tmp/bare/stream-$i.out" 2>&1
done
t1=$(date +%s.%N)
"$F" bench run --state-dir "$S" "$M" --suite overhead --topology overhead-harness --launches 3 --max-launches 3 >> "$log" 2>&1
t2=$(date +%s.%N)
finish
python3 Tests/Bench/overhead.py /tmp/bare "$OUT/results.jsonl" "$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print($t2 - $t1)")" > "$OUT/overhead.txt" 2>&1
grep "harness took" "$log" >> "$OUT/overhead.txt"
cat "$OUT/compare.txt" "$OUT/overhead.txt"
tail -5 "$log"

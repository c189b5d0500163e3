#!/usr/bin/env bash
# On the lent H100 (run tool): forbc's MPS partition kind against NVIDIA's real nvidia-cuda-mps-control, with the
# bundle of Tests/Bench/device-bundle.sh. Plans first and stops unless every action is an MPS one (nothing else on
# the card may change: no MIG, clocks, compute mode or persistence), then: apply, discover, drift, the daemon quit
# behind forbc's back, drift (2), apply (restarts it), a 2-tenant GEMM/STREAM suite on the MPS partition, destroy.
# Everything it prints lands in $OUT/mps.log; the benchmark results in $OUT/mps-results.jsonl.
set -u
B=/tmp/forbc-bundle
mkdir -p "$B" && tar xJf .build-device/bundle.tar.xz -C "$B"
export LD_LIBRARY_PATH=$B/lib NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
F=$B/forbc
S=/tmp/forbc-mps-state
M=/tmp/h100-mps.yaml
log=$OUT/mps.log
cp -r Manifests/workloads /tmp/workloads
cat > "$M" <<YAML
apiVersion: forbc/v1
kind: Host
metadata: {name: h100-mps}
spec:
  gpus:
    - select: {model: H100}
      mps: {name: shared, clients: 2, activeThreadPercentage: 50}
  benchmarks:
    - {suite: mps2, on: [shared], workloads: [gemm, stream], repetitions: 3, tenants: 2}
YAML
step() { echo "== $*"; "$@"; echo "-- exit $?"; }
{
    nvidia-smi --query-gpu=name,uuid,mig.mode.current,compute_mode --format=csv
    "$F" plan "$M" --state-dir "$S" --output json > /tmp/plan.json
    cat /tmp/plan.json
    if ! python3 -c 'import json,sys; a=json.load(open("/tmp/plan.json"))["actions"]; sys.exit(0 if a and all(x["kind"]=="mps" for x in a) else 1)'; then
        echo "the plan has actions other than MPS ones: stopping before apply"; exit 0
    fi
    step "$F" apply "$M" --state-dir "$S" --yes --no-bench
    step "$F" discover --state-dir "$S"
    step "$F" drift "$M" --state-dir "$S"
    pipe=$(python3 -c 'import json; print([p["access"].split("CUDA_MPS_PIPE_DIRECTORY=")[1] for p in json.load(open("/tmp/plan.json"))["partitions"]][0])')
    ls -la "$pipe" "$(dirname "$pipe")/log"
    echo get_default_active_thread_percentage | CUDA_MPS_PIPE_DIRECTORY=$pipe nvidia-cuda-mps-control
    echo get_default_device_pinned_mem_limit 0 | CUDA_MPS_PIPE_DIRECTORY=$pipe nvidia-cuda-mps-control
    echo "== the daemon quit behind forbc's back"
    echo quit | CUDA_MPS_PIPE_DIRECTORY=$pipe nvidia-cuda-mps-control; sleep 1
    step "$F" drift "$M" --state-dir "$S"
    step "$F" apply "$M" --state-dir "$S" --yes --no-bench
    step "$F" drift "$M" --state-dir "$S"
    step "$F" bench run "$M" --state-dir "$S" --workloads /tmp/workloads --topology mps-2x50-forbc --launches 2 \
        --max-launches 2
    "$F" bench export --state-dir "$S" --out "$OUT/mps-results.jsonl"
    step "$F" destroy "$M" --state-dir "$S" --yes
    ps -e -o pid,comm | grep -i mps || echo "no MPS process left"
} > "$log" 2>&1
tail -60 "$log"

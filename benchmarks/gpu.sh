#!/usr/bin/env bash
# The GPU figures in one go, sized for a short lease of one GPU machine (about 9 minutes):
#   1. benchmarks/speed.py alone on the GPU (Burgers and Kovasznay, float32, every engine, CUDA graphs or not);
#   2. then, side by side: the CUDA-relevant tests with device "auto" meaning CUDA, the shipped Burgers
#      case over three seeds (shipped defaults: compiled jets, CUDA graphs), Burgers with the native
#      L-BFGS on the device, and every shipped problem over three seeds (eager jets, to skip compiling).
# Usage: bash benchmarks/gpu.sh OUT_DIR     (each part has its own time limit; what finished is kept)
set -u
out=$(realpath -m "${1:-benchmarks/results/gpu}")
mkdir -p "$out/runs"
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } > "$out/gpu.txt" 2>&1

timeout 230 python3 speed.py --cases burgers kovasznay --dtypes float32 --sizes 1000 100000 --widths 20 \
    --steps 20 --repeats 3 --out "$out/speed_gpu.json" > "$out/speed.txt" 2>&1

for seed in 0 1 2; do
    timeout 300 python3 burgers.py --seeds "$seed" --json "$out/runs/burgers-$seed.json" > "$out/runs/burgers-$seed.txt" 2>&1 &
done
timeout 300 python3 burgers.py --seeds 0 --config ../problems/burgers_lbfgs.toml --json "$out/runs/burgers-lbfgs.json" \
    > "$out/runs/burgers-lbfgs.txt" 2>&1 &
for case in poisson poisson_multiscale poisson_lshape kovasznay cavity taylor_green beltrami burgers_inverse \
            navier_stokes_inverse; do
    timeout 300 python3 problems.py --cases "$case" --seeds 0 1 2 --set model.compile=false \
        --json "$out/runs/$case.json" > "$out/runs/$case.txt" 2>&1 &
done
(cd .. && timeout 200 python3 -m pytest -q -p no:cacheprovider tests/test_lbfgs.py tests/test_phases.py \
    tests/test_jets.py tests/test_solve.py tests/test_inverse.py tests/test_pdes.py > "$out/tests.txt" 2>&1)
wait
tar -czf "$out/runs.tar.gz" -C "$out" runs && rm -r "$out/runs"

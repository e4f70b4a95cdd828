#!/usr/bin/env bash
# The GPU validation run on a bare GPU image with no network (see benchmarks/gpu_check.py for the output format).
#   bash benchmarks/gpu_check.sh OUT_DIR [--quick] [--parts nvml,callback,pipeline,protocol]
# The image is assumed to have torch, transformers, accelerate, huggingface_hub and nvidia-ml-py. What else
# scer-hf imports travels as wheels in .gpu-wheels/ (made on a machine with a registry, see the README's
# development notes) and is installed here without a network, without dependencies, into .gpu-site/.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bash benchmarks/gpu_check.sh OUT_DIR [gpu_check.py options]}"
shift
if [ -d .gpu-wheels ]; then
  python -m pip install -q --no-deps --no-index --target .gpu-site .gpu-wheels/*.whl
  export PYTHONPATH="$PWD/.gpu-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv 2>/dev/null || true
timeout 300 python benchmarks/gpu_check.py "$out" "$@"

#!/usr/bin/env bash
# The CUDA checks, for a machine with an NVIDIA GPU and torch with CUDA (no network):
# the adapter tests, then the suite on cuda with device_parity, reports into $OUT.
# Usage: OUT=/some/dir bash scripts/cuda_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/cuda_check}
mkdir -p "$OUT"
export CI=true PYTHONUNBUFFERED=1
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/core/test_adapters.py 2>&1 | tail -3
# Checks without hypothesis first (seconds), then the whole suite at the CI profile.
timeout 120 python3 -m gradcheck --adapter torch --device cuda \
  --dtypes float64,float32,float16,bfloat16 --report "$OUT/cuda_quick.json" \
  -- -q -p no:cacheprovider -k "device_parity or analytic or semantics or conventions" \
  2>&1 | tail -40 > "$OUT/cuda_quick.log"
tail -12 "$OUT/cuda_quick.log"
/usr/bin/time -f "suite wall %e s" timeout 330 python3 -m gradcheck --adapter torch \
  --device cuda --report "$OUT/cuda_suite.json" -- -q -p no:cacheprovider \
  > "$OUT/cuda_suite.log" 2>&1
tail -95 "$OUT/cuda_suite.log"

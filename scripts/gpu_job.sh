#!/usr/bin/env bash
# The `gpu` profile end to end on one CUDA machine, unattended, logged (docs/scale.md).
#   scripts/gpu_job.sh                      # the job as configured
#   scripts/gpu_job.sh --set fret.n_seeds=20000   # any `gecko-bench run` option passes through
# Resumable: rerun the same command after an interruption; finished stages are skipped.
# Never run on a GPU by this project (none was lent): the stage budgets in docs/scale.md are
# estimates, and what the log records is the first measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
LOG="${LOG:-results/gpu-job-$(date -u +%Y%m%dT%H%M%SZ).log}"
exec > >(tee -a "$LOG") 2>&1
echo "gpu job: log $LOG, $(date -u)"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi
make install
.venv/bin/python - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("torch sees no CUDA GPU (a CPU-only torch wheel, or no driver): the gpu profile "
             "needs one; on a CPU machine run `gecko-bench run --profile cpu`")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, "
      f"bf16 {torch.cuda.is_bf16_supported()}")
PY
.venv/bin/gecko-bench assets fetch
SECONDS=0
.venv/bin/gecko-bench run --profile gpu "$@"
echo "gpu job finished in ${SECONDS} s; each stage printed its own time above"

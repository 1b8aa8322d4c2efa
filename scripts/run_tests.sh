#!/usr/bin/env bash
# Install what the tests need (venv; as root on Debian also the real Fashion-MNIST
# files and Chromium for the browser test), then run the whole pytest suite on every core
# (pytest-xdist).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "apt-get install ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
# Let Python cache compiled modules (in .venv and the git-ignored __pycache__ folders): with
# PYTHONDONTWRITEBYTECODE set, every process -- each test worker, CLI run, server and Dask
# worker -- compiles TensorFlow, pandas, plotly and Streamlit from source again.
unset PYTHONDONTWRITEBYTECODE
# One BLAS thread per worker: the workers already fill the cores, and OpenBLAS threads
# that spin against another worker's load cost more than they give.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/python -m pytest -q -n auto "$@"

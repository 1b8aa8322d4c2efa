#!/usr/bin/env bash
# Install (first time) and start the dashboard on http://127.0.0.1:${PORT:-8501}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
exec .venv/bin/python -m streamlit run app.py \
  --server.headless true --server.address 127.0.0.1 --server.port "${PORT:-8501}" \
  --browser.gatherUsageStats false "$@"

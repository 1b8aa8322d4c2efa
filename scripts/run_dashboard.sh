#!/usr/bin/env bash
# Install (first time) and start the dashboard on http://127.0.0.1:${PORT:-8501}
# (server settings: .streamlit/config.toml; loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
echo "WLRA Explorer: open http://127.0.0.1:${PORT:-8501}"
exec .venv/bin/python -m streamlit run app.py --server.port "${PORT:-8501}" "$@"

#!/usr/bin/env bash
# Install (first time) and start the dashboard (serve.py: app.py behind its deep-link
# middleware) on http://127.0.0.1:${PORT:-8501}
# (server settings: .streamlit/config.toml; loopback only). Streamlit options pass through,
# e.g. --server.port 8611; the address printed is the one the server will listen on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
# Let Python cache compiled modules (in .venv and the git-ignored __pycache__ folders): with
# PYTHONDONTWRITEBYTECODE set, every process -- each test worker, CLI run, server and Dask
# worker -- compiles TensorFlow, pandas, plotly and Streamlit from source again.
unset PYTHONDONTWRITEBYTECODE
port="${PORT:-8501}"
address="127.0.0.1"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --server.port=*) port="${args[i]#*=}" ;;
    --server.port) port="${args[i + 1]:-$port}" ;;
    --server.address=*) address="${args[i]#*=}" ;;
    --server.address) address="${args[i + 1]:-$address}" ;;
  esac
done
echo "WLRA Explorer: open http://${address}:${port}"
exec .venv/bin/python -m streamlit run serve.py --server.port "${PORT:-8501}" "$@"

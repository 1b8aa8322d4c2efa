#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv/: the pinned packages of
# requirements.txt, then wlra_core itself in editable mode (the `wlra` command).
# Reuse is decided by a stamp holding the hash of requirements.txt and pyproject.toml:
# a complete install writes it last, so an interrupted install is redone next time.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Installing Python packages into .venv/ (first run takes under a minute)..."
python3 -m venv .venv
# uv (from PyPI, pinned) installs the same pinned wheels as pip in a fifth of the time: 11 s
# instead of 55 s here. Where it cannot be installed or cannot install them (it reads no pip
# configuration: an index or certificate set only for pip), pip does the work.
uv=(.venv/bin/uv pip install --quiet --python .venv/bin/python)
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if "${pip[@]}" uv==0.13.9 2>/dev/null && "${uv[@]}" -r requirements.txt; then
  install=("${uv[@]}")
else
  echo "uv could not install requirements.txt; installing with pip instead..."
  # --no-compile: byte-compiling every installed module (tensorflow's thousands) costs more
  # CPU than the install itself; Python compiles the modules actually imported on first use.
  install=("${pip[@]}" --no-compile)
  "${install[@]}" -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi
# --no-deps: requirements.txt pinned every dependency. The output is shown only on failure:
# setuptools warns on every editable install that ./wlra_core shadows the installed one,
# which here is the very same folder.
if ! log=$("${install[@]}" --no-deps --editable . 2>&1); then
  echo "$log" >&2
  exit 1
fi
echo "$want" > "$stamp"

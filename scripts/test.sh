#!/usr/bin/env bash
# Sets up the environment and runs the whole test suite. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Lint and type check first (settings in pyproject.toml's [tool.ruff] and [tool.pyright]).
.venv/bin/python -m ruff check searchgym tests || { echo "ruff found problems (see above)" >&2; exit 1; }
.venv/bin/python -m pyright --pythonpath .venv/bin/python || { echo "pyright found type errors (see above)" >&2; exit 1; }
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating as failure" >&2
    exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

# The vLLM engine test skips in .venv (no vLLM there); it runs here, against vLLM's CPU build, in its own
# environment. Same pytest arguments, so a -k that selects nothing here is fine (exit 5).
# SEARCHGYM_SKIP_VLLM=1 leaves this stage out.
if [ "${SEARCHGYM_SKIP_VLLM:-0}" = 1 ]; then
    exit 0
fi
bash scripts/setup_vllm.sh || exit 1
SEARCHGYM_REQUIRE_VLLM=1 .venv-vllm/bin/python -m pytest -p no:cacheprovider "$@" tests/test_vllm_engine.py
status=$?
[ "$status" -eq 5 ] && status=0
exit "$status"

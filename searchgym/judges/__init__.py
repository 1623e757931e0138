"""Judges: the ``Judge`` protocol and its backends, chosen by a spec string.

``load_judge(spec)`` specs (:mod:`searchgym.judges.specs`):

* ``"rules"`` -- deterministic lexical judge (``searchgym.judges.rules``).
* ``"gold"`` -- deterministic judge that reads the task's gold hops (``searchgym.judges.gold``).
* ``"openai:<model>@<base_url>"`` (or ``"openai:<model>"`` for the SDK's default endpoint) -- any
  OpenAI-compatible server (``searchgym.judges.openai_judge``).
* ``"transformers"`` / ``"transformers:<model>"`` -- in-process HF model (default SmolLM2-135M-Instruct).
* ``"<name>[:<arg>]"`` -- a backend registered with ``register_judge`` or published in the
  ``searchgym.judges`` entry-point group: the entry point loads a factory called as
  ``factory(arg, **kwargs)`` (``arg`` is None without one) that returns a ``Judge``.

Keyword arguments are passed to the backend (e.g. ``cache=JudgeCache(...)``, ``concurrency=16``).
"""

from __future__ import annotations

from searchgym.judges.base import Judge, JudgeError, JudgeRequest, Judgment
from searchgym.judges.specs import ENTRY_POINT_GROUP, available_judges, load_judge, register_judge

__all__ = ["Judge", "JudgeError", "JudgeRequest", "Judgment", "load_judge", "register_judge",
           "available_judges", "ENTRY_POINT_GROUP"]

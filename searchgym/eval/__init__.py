"""Evaluation: episodes of a policy scored per task and summarised (``report``: ``evaluate``,
``write_report``, ``comparison_table``), two evaluations of the same tasks compared task by task (``paired``:
gained / lost and an exact sign test), and a labelled set of agent steps for measuring judges
(``labelled``).

Heavy modules load only when their functions are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports

if TYPE_CHECKING:
    from searchgym.eval.report import EvalReport, evaluate, write_report

_LAZY = {
    "EvalReport": "searchgym.eval.report",
    "evaluate": "searchgym.eval.report",
    "write_report": "searchgym.eval.report",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["EvalReport", "evaluate", "write_report"]

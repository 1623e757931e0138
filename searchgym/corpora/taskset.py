"""``TaskSet``: the tasks of a data set together with the corpus they are answered from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from searchgym.corpora.records import Document, Task
from searchgym.sharing import SharedOnCopy


@dataclass(frozen=True)
class TaskSet(SharedOnCopy):
    """A data set's tasks and the documents they are answered from (document ids are unique)."""

    name: str
    tasks: Sequence[Task]
    documents: Sequence[Document]

    def __post_init__(self) -> None:
        ids = [d.id for d in self.documents]
        if len(set(ids)) != len(ids):
            raise ValueError(f"task set {self.name!r} has duplicate document ids")

"""A seeded synthetic world: fictional entities, encyclopedia passages and multi-hop questions.

``generate_world(WorldConfig(...))`` returns a ``TaskSet`` whose passages are rendered lazily; the same
config gives the same ids, texts and tasks in every process. See docs/datasets.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from searchgym.corpora.synthetic.config import WorldConfig
from searchgym.corpora.synthetic.questions import make_tasks
from searchgym.corpora.synthetic.render import WorldDocuments, render_passage
from searchgym.corpora.synthetic.world import World, build_world, stable_seed
from searchgym.corpora.taskset import TaskSet


@dataclass(frozen=True)
class SyntheticTaskSet(TaskSet):
    """A ``TaskSet`` over a lazy world; its document ids are unique by construction."""

    def __post_init__(self) -> None:
        if not isinstance(self.documents, WorldDocuments):
            super().__post_init__()
        # WorldDocuments ids are "w<seed>-<position>": checking them would render every passage


def generate_world(config: WorldConfig | None = None) -> SyntheticTaskSet:
    """Build the world a config describes and the tasks asked about it (see the module doc)."""
    cfg = config or WorldConfig()
    world = build_world(cfg.seed, cfg.num_passages)
    documents = WorldDocuments(world, distractors=cfg.distractors)
    tasks = make_tasks(world, cfg, documents.id, random.Random(stable_seed(cfg.seed, 4)))
    return SyntheticTaskSet(name="synthetic", tasks=tasks, documents=documents)


__all__ = ["SyntheticTaskSet", "World", "WorldConfig", "WorldDocuments", "build_world", "generate_world",
           "render_passage"]

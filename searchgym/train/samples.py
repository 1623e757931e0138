"""Records a sampler hands to training: token-level samples grouped for group-relative advantages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from searchgym.corpora.records import Task


@dataclass(frozen=True)
class TrainingSample:
    """One GRPO sample.

    For trajectory sampling the completion is the whole episode after the first prompt (agent turns and
    environment observations interleaved); for truncated step-level sampling it is one agent turn after
    a shared prefix. ``completion_mask`` is 1 on policy tokens (trained) and 0 on environment tokens.
    Samples with the same ``group_id`` form one group; ``scored`` False leaves a sample out of advantages.
    ``finished`` says the sample ended where it should: the episode with an answer (trajectory), the
    turn with a well-formed action (step). Unfinished samples ran out of turns or tokens.
    """

    group_id: str
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    completion_mask: tuple[int, ...]
    logprobs: tuple[float, ...]
    reward: float
    advantage: float = 0.0
    components: Mapping[str, float] = field(default_factory=dict)
    scored: bool = True
    text: str = ""
    finished: bool = True


class Sampler(Protocol):
    """Turns a batch of tasks into groups of scored training samples."""

    def sample(self, tasks: Sequence[Task]) -> list[TrainingSample]: ...

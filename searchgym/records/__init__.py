"""The plain records every layer shares (a leaf: imports nothing else of searchgym).

Corpus records (``Document``, ``Hop``, ``Task``), episode records (``Step``, ``Trajectory`` and the step
kinds) and rubric records (``Rubric``).
"""

from searchgym.records.corpus import Document, Hop, Task
from searchgym.records.episode import ANSWER, INVALID, OPEN, SEARCH, STEP_KINDS, Step, Trajectory
from searchgym.records.rubric import Rubric

__all__ = ["ANSWER", "Document", "Hop", "INVALID", "OPEN", "Rubric", "SEARCH", "STEP_KINDS", "Step", "Task",
           "Trajectory"]

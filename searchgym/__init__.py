"""searchgym: Gymnasium environments, rewards and GRPO training for LLM deep-search agents."""

from searchgym.envs.registration import register_on_gymnasium_import
from searchgym.errors import SearchgymError
from searchgym.records import Document, Hop, Step, Task, Trajectory
from searchgym.search.base import Hit, Searcher

register_on_gymnasium_import()  # gym.make("searchgym/...") ids, without importing gymnasium here

__version__ = "0.1.0"
__all__ = ["Document", "Hit", "Hop", "Searcher", "SearchgymError", "Step", "Task", "Trajectory", "__version__"]

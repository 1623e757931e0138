"""Shared machinery of model-backed judges: prompt rendering, caching, parse retries, batch errors."""

from __future__ import annotations

import asyncio
import threading
from typing import Sequence

from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.judges.cache import JudgeCache, cache_key
from searchgym.judges.parsing import UnparseableJudgment, parse_judgment
from searchgym.judges.prompts import PROMPT_VERSION, render_messages, render_text


class BatchJudgeError(JudgeError):
    """Some requests of a batch failed. ``results[i]`` is a ``Judgment`` or the ``JudgeError`` of request i.

    Completed verdicts are in the cache already; none of the failed ones has a score.
    """

    def __init__(self, message: str, results: list):
        super().__init__(message)
        self.results = results

    @property
    def failures(self) -> list[int]:
        return [i for i, r in enumerate(self.results) if not isinstance(r, Judgment)]


def run_sync(coro):
    """Run a coroutine to completion from sync code, even when an event loop is already running."""
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if not running:
        return asyncio.run(coro)
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class ModelJudge:
    """Base of prompt-based judges.

    Subclasses implement ``_complete_batch(messages_list, attempt, on_done)``, calling
    ``on_done(index, reply_text_or_exception)`` as each reply arrives.
    """

    name = "model"
    model = ""

    def __init__(self, cache: JudgeCache | None = None, parse_retries: int = 1):
        self.cache = cache
        self.parse_retries = parse_retries
        self.merged = 0  # requests answered by an identical request of the same batch

    def key(self, request: JudgeRequest) -> str:
        """Cache key of ``request``: backend, model, prompt version and rendered prompt."""
        prompt = render_text(render_messages(request))
        return cache_key(self.name, self.model, PROMPT_VERSION + "\n" + prompt)

    async def _complete_batch(self, messages: list[list[dict]], attempt: int, on_done) -> None:
        raise NotImplementedError

    async def ajudge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Verdicts for ``requests`` in order; raises ``BatchJudgeError`` if any request failed."""
        results: list = [None] * len(requests)
        keys = [self.key(r) for r in requests]
        todo: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            hit = self.cache.get(k) if self.cache is not None else None
            if hit is not None:
                results[i] = hit
            elif k in todo:
                todo[k].append(i)  # identical prompts in one batch: judged once
                self.merged += 1
            else:
                todo[k] = [i]
        pending = list(todo)
        for attempt in range(self.parse_retries + 1):
            if not pending:
                break
            still: list[str] = []

            def on_done(j: int, reply, _pending=pending, _attempt=attempt, _still=still) -> None:
                # called as each reply lands, so a verdict is cached even if the batch dies later
                k = _pending[j]
                if isinstance(reply, BaseException):
                    err = reply if isinstance(reply, JudgeError) else JudgeError(f"{self.name} judge failed: {reply!r}")
                    for i in todo[k]:
                        results[i] = err
                    return
                try:
                    score, rationale = parse_judgment(reply)
                except UnparseableJudgment as exc:
                    for i in todo[k]:
                        results[i] = JudgeError(f"{self.name} judge reply unparseable after {_attempt + 1} tries: {exc}")
                    _still.append(k)
                    return
                verdict = Judgment(score, rationale, raw=reply, metadata=(("backend", self.name), ("model", self.model)))
                if self.cache is not None:
                    self.cache.put(k, verdict)
                for i in todo[k]:
                    results[i] = verdict

            await self._complete_batch([render_messages(requests[todo[k][0]]) for k in pending], attempt, on_done)
            pending = still
        failed = [i for i, r in enumerate(results) if not isinstance(r, Judgment)]
        if failed:
            first = results[failed[0]]
            raise BatchJudgeError(f"{len(failed)} of {len(requests)} judgments failed; first: {first}", results)
        return results

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Sync twin of ``ajudge``."""
        return run_sync(self.ajudge(requests))

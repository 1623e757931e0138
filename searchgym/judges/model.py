"""Shared machinery of model-backed judges: prompt rendering, caching, parse retries, deadlines, batch errors.

A verdict is accepted only when ``parse_judgment`` reads exactly one allowed score from the reply; an
unparseable reply is asked again (``parse_retries``) and then fails with ``JudgeError``. ``deadline``
bounds one whole ``judge``/``ajudge`` call (every request, retry and backoff); the requests still open
when it passes fail with ``JudgeError``. The verdict cache is an optimisation: a cache that fails
(``CacheError``) is logged and counted in ``cache_errors``, and the request is judged without it, so a
broken cache file never costs a verdict nor invents one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from typing import overload

from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.judges.cache import JudgeCache, cache_key
from searchgym.judges.parsing import UnparseableJudgment, parse_judgment
from searchgym.judges.prompts import PROMPT_VERSION, render_messages, render_text
from searchgym.sharing import SharedOnCopy

log = logging.getLogger(__name__)

# absolute ``time.monotonic()`` by which the current judge call must end (None: no deadline); a
# context variable so that backends running in worker threads (``asyncio.to_thread``) see it too
CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("judge_call_deadline", default=None)


@overload
def time_left(default: float) -> float: ...
@overload
def time_left(default: None = None) -> float | None: ...
def time_left(default: float | None = None) -> float | None:
    """Seconds left before the current judge call's deadline (``default`` when it has none)."""
    at = CALL_DEADLINE.get()
    if at is None:
        return default
    left = at - time.monotonic()
    return left if default is None else min(default, left)


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


class ModelJudge(SharedOnCopy):
    """Base of prompt-based judges.

    Subclasses implement ``_complete_batch(messages_list, attempt, on_done)``, calling
    ``on_done(index, reply_text_or_exception)`` as each reply arrives.
    """

    name = "model"
    model = ""

    def __init__(self, cache: JudgeCache | None = None, parse_retries: int = 1, deadline: float | None = None):
        if parse_retries < 0:
            raise ValueError(f"parse_retries must be >= 0, got {parse_retries}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline must be a positive number of seconds or None, got {deadline}")
        self.cache = cache
        self.parse_retries = parse_retries
        self.deadline = deadline
        self.merged = 0  # requests answered by an identical request of the same batch
        self.cache_errors = 0  # cache reads/writes that failed (the requests were judged anyway)

    def key(self, request: JudgeRequest) -> str:
        """Cache key of ``request``: backend, model, prompt version and rendered prompt."""
        prompt = render_text(render_messages(request))
        return cache_key(self.name, self.model, PROMPT_VERSION + "\n" + prompt)

    async def _complete_batch(self, messages: list[list[dict]], attempt: int, on_done) -> None:
        raise NotImplementedError

    def _cache_failed(self, exc: JudgeError) -> None:
        self.cache_errors += 1
        if self.cache_errors == 1:  # once per judge: a dead cache must not flood the log
            log.warning("%s judge: verdict cache failed, judging without it: %s", self.name, exc)

    async def ajudge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Verdicts for ``requests`` in order; raises ``BatchJudgeError`` if any request failed."""
        results: list = [None] * len(requests)
        token = None
        if self.deadline is not None:
            token = CALL_DEADLINE.set(time.monotonic() + self.deadline)
        try:
            if self.deadline is None:
                await self._judge_into(requests, results)
            else:
                try:
                    async with asyncio.timeout(self.deadline):
                        await self._judge_into(requests, results)
                except TimeoutError:
                    late = JudgeError(f"{self.name} judge: no verdict within the call's deadline of {self.deadline}s")
                    results[:] = [r if isinstance(r, Judgment) else late for r in results]
        finally:
            if token is not None:
                CALL_DEADLINE.reset(token)
        failed = [i for i, r in enumerate(results) if not isinstance(r, Judgment)]
        if failed:
            first = results[failed[0]]
            raise BatchJudgeError(f"{len(failed)} of {len(requests)} judgments failed; first: {first}", results)
        return results

    async def _judge_into(self, requests: Sequence[JudgeRequest], results: list) -> None:
        keys = [self.key(r) for r in requests]
        todo: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            hit = None
            if self.cache is not None:
                try:
                    hit = self.cache.get(k)
                except JudgeError as exc:
                    self._cache_failed(exc)
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
            answered: set[str] = set()

            def on_done(j: int, reply, _pending=pending, _attempt=attempt, _still=still, _answered=answered) -> None:
                # called as each reply lands, so a verdict is cached even if the batch dies later
                k = _pending[j]
                _answered.add(k)
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
                    try:
                        self.cache.put(k, verdict)
                    except JudgeError as exc:
                        self._cache_failed(exc)
                for i in todo[k]:
                    results[i] = verdict

            await self._complete_batch([render_messages(requests[todo[k][0]]) for k in pending], attempt, on_done)
            for k in pending:
                if k not in answered:  # a backend that skipped a request must not leave a hole
                    for i in todo[k]:
                        results[i] = JudgeError(f"{self.name} judge: the backend returned no reply for a request")
            pending = still

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Sync twin of ``ajudge``."""
        return run_sync(self.ajudge(requests))

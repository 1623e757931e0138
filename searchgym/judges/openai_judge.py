"""``openai:<model>@<base_url>``: a judge on any OpenAI-compatible server, through the official ``openai`` SDK.

Works with OpenAI, vLLM, llama.cpp and Ollama. Bounded concurrency, per-attempt and per-call
deadlines, its own retries, structured output with fallbacks, strict parsing. See docs/rewards.md.
"""

from __future__ import annotations

import asyncio
import os
import random

from searchgym.judges.base import JudgeError
from searchgym.judges.cache import JudgeCache
from searchgym.judges.model import ModelJudge, time_left
from searchgym.judges.prompts import JUDGMENT_SCHEMA

STRUCTURED_MODES = ("json_schema", "json_object", "none")


def _format(mode: str) -> dict | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "judgment", "schema": JUDGMENT_SCHEMA, "strict": True}}
    if mode == "json_object":
        return {"type": "json_object", "schema": JUDGMENT_SCHEMA}
    return None


class _AttemptTimeout(Exception):
    """One HTTP attempt ran past ``timeout`` (retried like the SDK's own timeouts)."""


def _describe(exc: BaseException) -> str:
    name = "TimeoutError" if isinstance(exc, _AttemptTimeout) else type(exc).__name__
    return f"{name}: {exc}"


class OpenAIJudge(ModelJudge):
    """A judge behind an OpenAI-compatible chat-completions endpoint."""

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 60.0, max_retries: int = 4, backoff: float = 0.5,
                 max_backoff: float = 8.0, structured: str = "auto", temperature: float = 0.0,
                 max_tokens: int = 96, cache: JudgeCache | None = None, parse_retries: int = 1,
                 deadline: float | None = None):
        super().__init__(cache=cache, parse_retries=parse_retries, deadline=deadline)
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        if structured not in ("auto", *STRUCTURED_MODES):
            raise ValueError(f"structured must be 'auto' or one of {STRUCTURED_MODES}, got {structured!r}")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.structured = structured
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._mode: str | None = None if structured == "auto" else structured
        self.attempts = 0  # HTTP attempts made (for tests and metrics)
        self.retries = 0

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def _client(self):
        from openai import AsyncOpenAI

        key = os.environ.get(self.api_key_env) or "sk-no-key-local"
        return AsyncOpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0)

    def _retryable(self, exc: BaseException) -> bool:
        import openai

        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                            openai.InternalServerError, _AttemptTimeout)):
            return True
        return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500

    async def _call(self, client, messages: list[dict], mode: str, attempt: int) -> str:
        kwargs: dict[str, object] = dict(model=self.model, messages=messages, max_tokens=self.max_tokens,
                      temperature=self.temperature if attempt == 0 else max(self.temperature, 0.7))
        fmt = _format(mode)
        if fmt is not None:
            kwargs["response_format"] = fmt
        self.attempts += 1
        limit = time_left(self.timeout)
        if limit <= 0:
            raise JudgeError(f"openai judge: the call's deadline of {self.deadline}s passed")
        try:
            async with asyncio.timeout(limit):  # the whole attempt, not each read
                resp = await client.chat.completions.create(**kwargs)
        except TimeoutError:
            raise _AttemptTimeout(f"no complete reply within {limit:.3g}s") from None
        choices = getattr(resp, "choices", None)
        if not choices:
            raise JudgeError("openai judge: server returned no choices")
        content = getattr(getattr(choices[0], "message", None), "content", None)
        if content is not None and not isinstance(content, str):
            raise JudgeError(f"openai judge: reply content is {type(content).__name__}, not text")
        return content or ""

    async def _one(self, client, sem: asyncio.Semaphore, messages: list[dict], attempt: int) -> str:
        import openai

        async with sem:
            tries = 0
            while True:
                mode = self._mode or "json_schema"
                try:
                    reply = await self._call(client, messages, mode, attempt)
                    if self._mode is None:
                        self._mode = mode
                    return reply
                except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                    # a server without this response format: step down once per mode (auto only)
                    if self.structured == "auto" and mode != "none":
                        self._mode = STRUCTURED_MODES[STRUCTURED_MODES.index(mode) + 1]
                        continue
                    raise JudgeError(f"openai judge: request rejected: {exc}") from exc
                except JudgeError:
                    raise
                except Exception as exc:
                    # llama.cpp's server answers an unknown response_format with a 500 naming it
                    if self.structured == "auto" and mode != "none" and "response_format" in str(exc):
                        self._mode = STRUCTURED_MODES[STRUCTURED_MODES.index(mode) + 1]
                        continue
                    # a malformed (non-JSON) body surfaces as a ValueError: retried like a 5xx
                    if not (self._retryable(exc) or isinstance(exc, ValueError)):
                        raise JudgeError(f"openai judge: {_describe(exc)}") from exc
                    if tries >= self.max_retries:
                        raise JudgeError(f"openai judge: gave up after {tries + 1} attempts: {_describe(exc)}") from exc
                    delay = min(self.max_backoff, self.backoff * 2 ** tries) * (1 + 0.25 * random.random())
                    left = time_left()
                    if left is not None and left <= delay:  # the retry could not finish in time
                        raise JudgeError(f"openai judge: deadline of {self.deadline}s reached after {tries + 1} "
                                         f"attempts: {_describe(exc)}") from exc
                    tries += 1
                    self.retries += 1
                    await asyncio.sleep(delay)

    async def _complete_batch(self, messages: list[list[dict]], attempt: int, on_done) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        client = self._client()

        async def one(j: int, m: list[dict]) -> None:
            try:
                reply = await self._one(client, sem, m, attempt)
            except Exception as exc:  # reported per request; the batch goes on
                reply = exc
            on_done(j, reply)

        try:
            await asyncio.gather(*(one(j, m) for j, m in enumerate(messages)))
        finally:
            await client.close()

    async def complete(self, messages: list[dict], max_tokens: int = 512) -> str:
        """Free-text completion (used for rubric generation), with the same retry policy."""
        old, self.max_tokens = self.max_tokens, max_tokens
        old_mode, self._mode = self._mode, "none"
        box: list = []
        try:
            await self._complete_batch([messages], 0, lambda j, r: box.append(r))
            (reply,) = box
        finally:
            self.max_tokens, self._mode = old, old_mode
        if isinstance(reply, BaseException):
            raise reply if isinstance(reply, JudgeError) else JudgeError(str(reply))
        return reply

"""Import CaRR-style data: rubric lists and browser-agent trajectories as searchgym records.

The input is THUDM/CaRR's reward-server input (e.g. ``deepsearch_rm_with_rubrics/browsecomp_example.json``).
See docs/rewards.md for the mapping.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Document, Task
from searchgym.errors import SearchgymError
from searchgym.records.episode import ANSWER, INVALID, OPEN, SEARCH, Step, Trajectory
from searchgym.rewards.rubric import Rubric, placeholders

_SEARCH_BLOCK = re.compile(
    r"\[(\d+)\]\sTitle:\s(.+?)\s*\[\1\]\sURL\sSource:\s(\S+)\s*\[\1\]\sDescription:\s(.*?)\s*"
    r"(?:\[\1\]\sDate:\s(.+?))?\s*(?=\[\d+\]\sTitle:|\Z)",
    re.DOTALL,
)
_CITED_URL = re.compile(r"\[\d+\]\((?:view-source:)?(https?://[^\s]+?)\)[\],]")


class CarrFormatError(SearchgymError, ValueError):
    """A CaRR file that does not have the expected shape."""


def clean_url(url: str) -> str:
    """A URL without the reader-proxy prefixes CaRR's agents add."""
    url = url.strip()
    for prefix in ("https://r.jina.ai/", "http://r.jina.ai/", "view-source:"):
        url = url.replace(prefix, "")
    return url


def _forms(value: str | Sequence[str]) -> tuple[str, ...]:
    """A placeholder's accepted names: one name (a str) or several."""
    return (value,) if isinstance(value, str) else tuple(value)


def parse_rubrics(data: Any, names: Mapping[str, Sequence[str]] | None = None) -> tuple[Rubric, ...]:
    """Rubrics from ``{"rubrics": [...]}`` or a list of strings (or of ``{"rubric": ...}`` objects).

    ``names`` optionally gives accepted names per placeholder (``{"E1": ["Ricky Glenn"]}``); CaRR ships
    none (its judge extracts identities), so without them hidden entities cannot be identified by name.
    """
    items = data.get("rubrics") if isinstance(data, Mapping) else data
    if not isinstance(items, list) or not items:
        raise CarrFormatError("expected a non-empty list of rubrics (or an object with a 'rubrics' list)")
    out = []
    for i, item in enumerate(items):
        text = item.get("rubric", item.get("text")) if isinstance(item, Mapping) else item
        if not isinstance(text, str) or not text.strip():
            raise CarrFormatError(f"rubric {i}: expected a non-empty string, got {item!r}")
        used = placeholders(text)
        given = tuple((p, _forms(names[p])) for p in used if names and p in names)
        out.append(Rubric(text=text.strip(), names=given, hop=None))
    return tuple(out)


def load_carr_rubrics(path: str | os.PathLike[str], names: Mapping[str, Sequence[str]] | None = None) -> tuple[Rubric, ...]:
    """``parse_rubrics`` of a JSON file."""
    with open(path, encoding="utf-8") as fh:
        return parse_rubrics(json.load(fh), names)


@dataclass(frozen=True)
class CarrEpisode:
    """One imported CaRR trajectory: our ``Trajectory`` plus what the file said about it."""

    trajectory: Trajectory
    response: str
    label: str
    reported_reward: float | None
    task_unfinished: bool

    @property
    def task(self) -> Task:
        return self.trajectory.task


def _exact_answer(content: str) -> str:
    body = content.rsplit("## References", 1)[0]
    m = re.search(r"##\s*Exact Answer\s*(.*?)(?:\n##\s|\Z)", body, flags=re.DOTALL | re.IGNORECASE)
    answer = m.group(1) if m else body
    answer = re.sub(r"[*_`]+", "", answer)
    return " ".join(answer.split())


def _open_page(text: str) -> tuple[str, str, str]:
    title = re.search(r"Title:\s*(.+)", text)
    url = re.search(r"URL Source:\s*(\S+)", text)
    content = re.search(r"Markdown Content:\s*(.*)", text, flags=re.DOTALL)
    return (title.group(1).strip() if title else "", clean_url(url.group(1)) if url else "",
            content.group(1).strip() if content else "")


def episode_from_history(history: Sequence[Mapping[str, Any]], label: str, *, task_id: str = "carr-0",
                         reported_reward: float | None = None, task_unfinished: bool = False) -> CarrEpisode:
    """Map one CaRR chat history (user, assistant with tool calls, tool outputs, final answer)."""
    if not history or history[0].get("role") != "user":
        raise CarrFormatError("a CaRR history starts with the user's question")
    question = str(history[0].get("content", "")).split("\n\nYour response should be")[0].strip()
    calls: dict[str, Mapping[str, Any]] = {}
    outputs: dict[str, str] = {}
    for m in history:
        if m.get("role") == "assistant":
            for tc in m.get("tool_calls") or ():
                calls[tc["tool_call_id"]] = tc
        elif m.get("role") == "tool":
            for out in m.get("content") or ():
                if isinstance(out, Mapping) and "tool_call_id" in out:
                    outputs[out["tool_call_id"]] = str(out.get("output", ""))

    # pass 1: what each call showed (URLs) and the text gathered per URL
    titles: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    shown: dict[str, tuple[str, tuple[str, ...], str | None]] = {}  # call id -> (kind, hits, doc)
    current: str | None = None

    def add(url: str, title: str, text: str) -> None:
        titles.setdefault(url, title)
        if text and text not in texts.setdefault(url, []):
            texts[url].append(text)

    for call_id, tc in calls.items():
        out = outputs.get(call_id, "")
        name = tc.get("name")
        if name == "browser.search":
            hits = []
            for b in _SEARCH_BLOCK.finditer(out):
                url = clean_url(b.group(3))
                add(url, b.group(2).strip(), b.group(4).strip())
                hits.append(url)
            shown[call_id] = (SEARCH, tuple(dict.fromkeys(hits)), None)
        elif name == "browser.open":
            title, url, content = _open_page(out) if out.strip() else ("", "", "")
            if url:
                add(url, title, content)
                current = url
            shown[call_id] = (OPEN, (), url or None)
        elif name == "browser.find":
            if current and out.strip():
                add(current, "", out.strip())
            shown[call_id] = (OPEN, (), current if out.strip() else None)
    docs = {u: Document(id=u, title=titles.get(u, ""), text="\n\n".join(texts.get(u, []))) for u in titles}

    task = Task(id=task_id, question=question, answers=(label,), source="carr", kind="chain")
    traj = Trajectory(task=task)
    response = ""
    for m in history[1:]:
        if m.get("role") != "assistant":
            continue
        reasoning = str(m.get("reasoning_content") or "")
        for j, tc in enumerate(m.get("tool_calls") or ()):
            kind, hits, doc = shown.get(tc["tool_call_id"], (INVALID, (), None))
            try:
                args = json.loads(tc.get("arguments") or "{}")
            except json.JSONDecodeError:
                args = {}
            prefix = reasoning + "\n" if j == 0 and reasoning else ""
            if kind == SEARCH:
                step = Step(text=f"{prefix}<search>{args.get('query', '')}</search>", kind=SEARCH,
                            query=str(args.get("query", "")), hits=hits, observation=outputs.get(tc["tool_call_id"], ""))
                new = tuple(docs[h] for h in hits)
            elif doc is not None:
                step = Step(text=f"{prefix}<open>{doc}</open>", kind=OPEN, doc_id=doc,
                            query=args.get("pattern"), observation=outputs.get(tc["tool_call_id"], ""))
                new = (docs[doc],)
            else:
                step = Step(text=f"{prefix}{tc.get('name')} {tc.get('arguments')}", kind=OPEN, doc_id=None,
                            observation=outputs.get(tc["tool_call_id"], ""), error="nothing was shown")
                new = ()
            traj = traj.extend(step, new)
        if "content" in m and m.get("content") is not None and not m.get("tool_calls"):
            response = str(m["content"])
            body = response.rsplit("## References", 1)[0]
            cited = tuple(dict.fromkeys(clean_url(u) for u in _CITED_URL.findall(body)))
            traj = traj.extend(Step(text=f"{reasoning}\n{response}".strip(), kind=ANSWER,
                                    answer=_exact_answer(response), citations=cited))
    return CarrEpisode(traj, response, label, reported_reward, task_unfinished)


def load_carr_episodes(path: str | os.PathLike[str]) -> list[CarrEpisode]:
    """Every trajectory in a CaRR record file (a JSON list of batched records)."""
    p = Path(path)
    with open(p, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise CarrFormatError(f"{p}: expected a JSON list of records")
    episodes = []
    for r, rec in enumerate(data):
        for key in ("history", "label"):
            if key not in rec:
                raise CarrFormatError(f"{p}: record {r}: missing {key!r}")
        histories, labels = rec["history"], rec["label"]
        if histories and isinstance(histories[0], Mapping):  # unbatched record
            histories, labels = [histories], [labels]
        rewards = rec.get("rewards") or [None] * len(histories)
        unfinished = rec.get("task_unfinished") or [False] * len(histories)
        for b, (hist, label) in enumerate(zip(histories, labels)):
            episodes.append(episode_from_history(hist, str(label), task_id=f"carr-{r}-{b}",
                                                 reported_reward=rewards[b], task_unfinished=bool(unfinished[b])))
    return episodes


__all__ = ["CarrEpisode", "CarrFormatError", "clean_url", "episode_from_history", "load_carr_episodes",
           "load_carr_rubrics", "parse_rubrics"]

"""Sizing prompt-lookup drafting for HFPolicy: how many decode forwards would the turns of real episodes need?

    python benchmarks/bench_lookup.py runs/quickstart/eval/eval_episodes.jsonl [more episode files] --drafts 4,8

A search agent's turns copy a lot from their context (a query restates the reasoning before it, an answer names
an entity an observation showed), and on CPU a decode forward costs about as much for a few tokens as for one
(it is bound by reading the weights and the KV cache, not by arithmetic). Prompt-lookup drafting proposes the
tokens that followed the latest earlier occurrence of the last n generated tokens in the context, and one forward
checks them all. This replays saved episodes (``*_episodes.jsonl`` of ``searchgym eval`` or ``bench_learning``):
each turn's context is the conversation as the policy saw it (chat template, system prompt, question,
observations, earlier turns), each turn is tokenized as the samplers tokenize it, and a draft token counts as
accepted when it equals the token the episode actually generated there (what a greedy verifier accepts; a sampling
verifier accepts a draft token with the policy's probability of it, close to that for a policy this certain).

Printed per file and draft length K: generated tokens, forwards with drafting (one per verification, which also
yields one token of its own), tokens per forward, and the share of tokens that came from accepted drafts. Tokens
per forward is an upper bound on the decode speed-up: a forward that checks K + 1 tokens costs more than one that
reads one, by an amount this does not measure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def replay(context: Sequence[int], turn: Sequence[int], length: int, max_ngram: int) -> tuple[int, int]:
    """(forwards, drafted tokens accepted) to generate ``turn`` after ``context`` with drafts of ``length``
    (``searchgym.policies.lookup.LookupIndex``, the drafts HFPolicy verifies)."""
    from searchgym.policies.lookup import LookupIndex

    index = LookupIndex(context, max_ngram)
    forwards = accepted = i = 0
    while i < len(turn):
        proposal = index.draft(length)
        ok = 0
        while ok < len(proposal) and i + ok < len(turn) and proposal[ok] == turn[i + ok]:
            ok += 1
        step = min(ok + 1, len(turn) - i)  # the verifying forward also samples one token of its own
        accepted += min(ok, step)
        index.extend(turn[i:i + step])
        i += step
        forwards += 1
    return forwards, accepted


def episode_turns(episode: dict, tokenizer) -> list[tuple[list[int], list[int]]]:
    """(context ids, turn ids) for every turn of a saved episode, as HFPolicy and the samplers see them."""
    from searchgym.envs.prompts import SYSTEM_PROMPT
    from searchgym.policies.hf_policy import chat_prompt_ids
    from searchgym.train.samplers import TurnEncoder

    encoder = TurnEncoder(tokenizer)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": episode["task"]["question"]}]
    out = []
    for step in episode["steps"]:
        out.append((chat_prompt_ids(tokenizer, messages), encoder.ids(step["text"])))
        messages.append({"role": "assistant", "content": step["text"]})
        if step.get("observation"):
            messages.append({"role": "user", "content": step["observation"]})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Replay every file at every draft length and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("episodes", nargs="+", help="*_episodes.jsonl files of saved evaluations")
    parser.add_argument("--drafts", default="4,8", help="draft lengths K to replay (comma-separated)")
    parser.add_argument("--max-ngram", type=int, default=3, help="longest suffix looked up in the context")
    parser.add_argument("--model", default="smollm2", help="whose tokenizer (a model spec, as elsewhere)")
    args = parser.parse_args(argv)
    lengths = [int(k) for k in args.drafts.split(",")]
    if any(k < 1 for k in lengths) or args.max_ngram < 1:
        parser.error("draft lengths and --max-ngram must be positive")

    from transformers import AutoTokenizer

    from searchgym.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(args.model)))
    print("| episodes | K | generated tokens | forwards | tokens a forward | from accepted drafts |")
    print("|---|---|---|---|---|---|")
    for path in args.episodes:
        turns = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                turns += episode_turns(json.loads(line), tokenizer)
        if not turns:
            print(f"{path}: no episodes", file=sys.stderr)
            continue
        tokens = sum(len(t) for _, t in turns)
        for k in lengths:
            forwards = accepted = 0
            for context, turn in turns:
                f, a = replay(context, turn, k, args.max_ngram)
                forwards, accepted = forwards + f, accepted + a
            print(f"| {path} | {k} | {tokens} | {forwards} | {tokens / forwards:.2f} | {accepted / tokens:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

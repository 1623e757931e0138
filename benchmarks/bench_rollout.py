"""Rollout speed: decode throughput, episodes/s through the env, and where a GRPO step's time goes.

    python benchmarks/bench_rollout.py                      # all three parts, CPU, float32
    python benchmarks/bench_rollout.py --parts decode --batches 1,8,64 --new-tokens 64
    python benchmarks/bench_rollout.py --device cuda --dtype bfloat16 --new-tokens 128  # on a GPU
    python benchmarks/bench_rollout.py --parts decode,lm_head --batches 8 --bf16-autocast  # CPU as trained

Parts:
* ``decode``: generated tokens/s of ``HFPolicy`` vs ``model.generate`` (vs vLLM when importable) at
  each batch size, every row forced to ``--new-tokens`` (HFPolicy ``ignore_stops=True``; generate
  ``min_new_tokens``; vLLM ``min_tokens``/``ignore_eos``), same prompt (a real task prompt), plain
  sampling (temperature 1, no top-k/top-p). Also HFPolicy with n branches of one prompt sharing its
  prefix vs re-encoding it per branch.
* ``episodes``: episodes/s of greedy-free sampled episodes through ``DeepSearchEnv`` (synthetic
  world, ``--searcher``; bm25s when no Java is present), and the seconds spent generating, with
  ``HFPolicy``'s cross-turn KV reuse off and on (``--reuse-kv``).
* ``grpo``: ``--steps`` steps of the default ``searchgym train`` config (warm start reused from
  ``--output-dir`` when already built there), each step's time split, exclusively, into generation,
  env + search, scoring, log-probs (no grad), loss forward, backward and the rest, by timing wrappers
  around HFPolicy, DeepSearchEnv, the rewards, TRL's log-prob function and ``accelerator.backward``.
  The first step is reported apart (warm-up); the means are over the later ones.
* ``lm_head``: the per-token log-probs and entropies of ``--lm-head-tokens`` positions through the
  model's LM head, forward and backward (what GRPO's loss does per micro-batch), by TRL's
  ``ChunkedLogProbFunction`` and by searchgym's CPU path (``train/fast_logprobs.py``), each timed in a
  fresh state several times, and their largest differences.

``--bf16-autocast`` runs the decode part's HFPolicy and ``model.generate`` (and the lm_head part) under
bf16 autocast, as ``searchgym train --bf16 true`` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable


def java_present() -> bool:
    """Whether the Lucene backend can run here: pyserini installed and a usable JVM found."""
    import importlib.util

    if importlib.util.find_spec("pyserini") is None:
        return False
    try:
        from searchgym.search.java import java_binary

        java_binary()
        return True
    except Exception:  # noqa: BLE001 - no usable JVM: use bm25s
        return False


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def load(model_spec: str, device: str, dtype: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchgym.models import resolve_model

    path = str(resolve_model(model_spec))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
    return path, model, tokenizer


def task_prompt_ids(tokenizer) -> list[int]:
    from searchgym.policies.hf_policy import chat_prompt_ids
    from searchgym.corpora import load_taskset
    from searchgym.envs import DeepSearchEnv
    from searchgym.search.bm25s_searcher import BM25sSearcher

    taskset = load_taskset("synthetic:seed=0,passages=200,tasks=8,hops=2")
    env = DeepSearchEnv(taskset.tasks, BM25sSearcher(taskset.documents, progress=False), max_turns=4)
    env.reset(options={"task": taskset.tasks[0]})
    return chat_prompt_ids(tokenizer, env.messages)


def bench_lm_head(args) -> None:
    import torch
    from trl.kernels import ChunkedLogProbFunction
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE

    from searchgym.train.fast_logprobs import row_log_probs_function

    _, model, _ = load(args.model, args.device, args.dtype)
    weight = model.get_output_embeddings().weight.detach()
    n, outputs = args.lm_head_tokens, ("log_probs", "entropy")
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(n, weight.shape[1], generator=gen).to(args.device, weight.dtype)
    targets = torch.randint(0, weight.shape[0], (n,), generator=gen).to(args.device)
    autocast = " (bf16 autocast)" if args.bf16_autocast else ""
    print(f"\n## lm_head: {n} positions x {weight.shape[0]} vocabulary, log-probs + entropy, forward + backward"
          f"{autocast}")

    def run(kind: str) -> tuple[float, list[Any]]:
        h = hidden.clone().requires_grad_()
        sync(args.device)
        t = time.perf_counter()
        with torch.autocast(args.device, torch.bfloat16, enabled=args.bf16_autocast):
            if kind == "trl":
                lp, ent, *_ = ChunkedLogProbFunction.apply(h, weight, None, targets, 1.0, _CHUNKED_LOGPROB_CHUNK_SIZE,
                                                           None, 1.0, outputs)
            else:
                lp, ent, _ = row_log_probs_function().apply(h, weight, targets, 1.0, True, False)
        lp.sum().backward()
        sync(args.device)
        return time.perf_counter() - t, [lp.detach(), ent.detach(), h.grad]

    times: dict[str, list[float]] = {"trl": [], "searchgym": []}
    results: dict[str, list[Any]] = {}
    for _ in range(max(3, args.repeats)):
        for kind in times:
            seconds, results[kind] = run(kind)
            times[kind].append(seconds)
    for kind, ts in times.items():
        print(f"{kind:>10}: {' '.join(f'{t:.2f}' for t in ts)} s (first call of the process first)")
    print(f"speed-up (median): {statistics.median(times['trl']) / statistics.median(times['searchgym']):.2f}x; "
          "max |difference|: " + ", ".join(f"{name} {(a - b).abs().max().item():.2e}" for name, a, b in
                                           zip(("log-probs", "entropies", "hidden grad"), results["trl"],
                                               results["searchgym"])))


# ---------------------------------------------------------------------------------------------
def bench_decode(args) -> None:
    import torch

    from searchgym.policies.hf_policy import HFPolicy

    path, model, tokenizer = load(args.model, args.device, args.dtype)
    prompt = task_prompt_ids(tokenizer)
    new = args.new_tokens
    autocast = " (bf16 autocast)" if args.bf16_autocast else ""
    print(f"\n## decode: prompt {len(prompt)} tokens, {new} new tokens per row, {args.device} {args.dtype}{autocast}")
    print(f"{'batch':>5} {'HFPolicy tok/s':>15} {'generate tok/s':>15} {'ratio':>6} {'vLLM tok/s':>11}")

    def timed(fn: Callable[[], Any], repeats: int) -> float:
        fn()  # warm-up (allocator, kernels)
        best = float("inf")
        for _ in range(repeats):
            sync(args.device)
            t = time.perf_counter()
            fn()
            sync(args.device)
            best = min(best, time.perf_counter() - t)
        return best

    llm = None
    if not args.no_vllm:
        try:
            from vllm import LLM, SamplingParams

            llm = LLM(model=path, dtype=args.dtype, gpu_memory_utilization=0.3, enforce_eager=False, seed=0)
        except Exception as exc:  # noqa: BLE001 - vLLM is optional; say why it is absent
            print(f"(vLLM not measured: {type(exc).__name__}: {str(exc)[:120]})")
            llm = None
    for batch in args.batch_list:
        policy = HFPolicy(model, tokenizer, max_new_tokens=new, temperature=1.0, seed=0, batch_size=batch,
                          ignore_stops=True, autocast_bf16=args.bf16_autocast)
        t_hf = timed(lambda: policy.generate_ids([prompt] * batch, n=1), args.repeats)
        ids = torch.tensor([prompt] * batch, device=args.device)

        def gen() -> None:
            with torch.inference_mode(), torch.autocast(args.device, torch.bfloat16, enabled=args.bf16_autocast):
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0,
                               top_k=0, top_p=1.0, max_new_tokens=new, min_new_tokens=new,
                               pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)

        t_gen = timed(gen, args.repeats)
        vllm_rate = float("nan")
        if llm is not None:
            from vllm import SamplingParams
            from vllm.inputs import TokensPrompt

            params = SamplingParams(temperature=1.0, max_tokens=new, min_tokens=new, ignore_eos=True)
            t_v = timed(lambda: llm.generate([TokensPrompt(prompt_token_ids=prompt)] * batch, params,
                                             use_tqdm=False), args.repeats)
            vllm_rate = batch * new / t_v
        print(f"{batch:>5} {batch * new / t_hf:>15,.1f} {batch * new / t_gen:>15,.1f} {t_gen / t_hf:>6.2f} "
              f"{vllm_rate:>11,.0f}")
    # n branches of one prompt: the shared prefix against re-encoding the prompt per branch
    k = args.branches
    shared = HFPolicy(model, tokenizer, max_new_tokens=new, seed=0, batch_size=k, ignore_stops=True,
                      autocast_bf16=args.bf16_autocast)
    copies = HFPolicy(model, tokenizer, max_new_tokens=new, seed=0, batch_size=k, ignore_stops=True,
                      shared_prefix=False, autocast_bf16=args.bf16_autocast)
    t_s = timed(lambda: shared.generate_ids([prompt], n=k), args.repeats)
    t_c = timed(lambda: copies.generate_ids([prompt], n=k), args.repeats)
    print(f"n={k} branches of one prompt: shared prefix {k * new / t_s:,.1f} tok/s, re-encoded "
          f"{k * new / t_c:,.1f} tok/s ({t_c / t_s:.2f}x)")


# ---------------------------------------------------------------------------------------------
def bench_episodes(args) -> None:
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.eval.report import run_episodes
    from searchgym.corpora import load_taskset
    from searchgym.envs import DeepSearchEnv
    from searchgym.search import build_searcher

    _, model, tokenizer = load(args.model, args.device, args.dtype)
    taskset = load_taskset(f"synthetic:seed=0,passages=200,tasks={args.episodes},hops=2")
    searcher = build_searcher(args.searcher, taskset.documents, progress=False)

    def make_env():
        return DeepSearchEnv(taskset.tasks, searcher, max_turns=4, top_k=3, passage_chars=200)

    modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.reuse_kv]
    lookups = [int(k) for k in str(args.lookup_tokens).split(",")]
    rates = {}
    for reuse, lookup in ((r, k) for r in modes for k in lookups):
        policy = HFPolicy(model, tokenizer, max_new_tokens=args.turn_tokens, temperature=1.0, seed=0,
                          batch_size=args.episodes, reuse_kv=reuse, autocast_bf16=args.bf16_autocast,
                          lookup_tokens=lookup)
        gen_s = [0.0]
        inner = policy.generate_ids

        def timed_generate_ids(*a, _inner=inner, _acc=gen_s, **kw):
            t0 = time.perf_counter()
            try:
                return _inner(*a, **kw)
            finally:
                sync(args.device)
                _acc[0] += time.perf_counter() - t0

        policy.generate_ids = timed_generate_ids  # type: ignore[method-assign]
        run_episodes(policy, make_env, taskset.tasks[:2], batch_size=2, progress=False)  # warm-up
        policy.clear_kv()  # measure reuse across the turns of an episode only, not of warm-up prompts
        before, encoded, reused, gen_s[0] = policy.generated_tokens, policy.encoded_tokens, policy.reused_tokens, 0.0
        forwards = policy.forwards
        sync(args.device)
        t = time.perf_counter()
        trajs = run_episodes(policy, make_env, taskset.tasks, batch_size=args.episodes, progress=False)
        sync(args.device)
        dt = time.perf_counter() - t
        turns = sum(len(tr.steps) for tr in trajs)
        generated = policy.generated_tokens - before
        rates[reuse, lookup] = (len(trajs) / dt, gen_s[0], generated / gen_s[0])
        print(f"\n## episodes (KV reuse {'on' if reuse else 'off'}, lookup drafts {lookup}): {len(trajs)} episodes "
              f"({turns} turns, {generated} generated tokens) through DeepSearchEnv + {args.searcher} in "
              f"{dt:.2f} s: {len(trajs) / dt:.2f} episodes/s, {generated / dt:,.0f} tok/s; "
              f"generation {gen_s[0]:.2f} s ({generated / gen_s[0]:,.0f} generated tok/s), decode forwards "
              f"{policy.forwards - forwards:,} ({generated / max(1, policy.forwards - forwards):.2f} tokens a forward), "
              f"prompt tokens encoded {policy.encoded_tokens - encoded:,}, reused {policy.reused_tokens - reused:,}")
    for lookup in lookups:
        if (False, lookup) in rates and (True, lookup) in rates:
            print(f"KV reuse (lookup drafts {lookup}): {rates[True, lookup][0] / rates[False, lookup][0]:.2f}x "
                  f"episodes/s, generation {rates[False, lookup][1] / rates[True, lookup][1]:.2f}x faster")
    for reuse in modes:
        for lookup in lookups[1:]:
            if (reuse, lookups[0]) in rates and (reuse, lookup) in rates:
                print(f"lookup drafts {lookup} vs {lookups[0]} (KV reuse {'on' if reuse else 'off'}): generated "
                      f"tok/s {rates[reuse, lookup][2] / rates[reuse, lookups[0]][2]:.2f}x, episodes/s "
                      f"{rates[reuse, lookup][0] / rates[reuse, lookups[0]][0]:.2f}x")


# ---------------------------------------------------------------------------------------------
class SectionTimer:
    """Exclusive time per section, wall clock and this process's CPU time (all threads): a nested
    section pauses its parent's clocks. On a shared machine the CPU time is the steadier figure."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.totals: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []  # [name, wall start, cpu start]

    @contextmanager
    def section(self, name: str):
        sync(self.device)
        now, cpu = time.perf_counter(), time.process_time()
        if self.stack:
            parent = self.stack[-1]
            self.totals[parent[0]] += now - parent[1]
            self.cpu[parent[0]] += cpu - parent[2]
        self.stack.append([name, now, cpu])
        try:
            yield
        finally:
            sync(self.device)
            now, cpu = time.perf_counter(), time.process_time()
            top = self.stack.pop()
            self.totals[top[0]] += now - top[1]
            self.cpu[top[0]] += cpu - top[2]
            if self.stack:
                self.stack[-1][1], self.stack[-1][2] = now, cpu

    def wrap(self, owner: Any, attr: str, name: str | Callable[[], str]) -> None:
        original = getattr(owner, attr)
        timer = self

        def wrapped(*a, **kw):
            with timer.section(name() if callable(name) else name):
                return original(*a, **kw)

        setattr(owner, attr, wrapped)

    def take(self) -> tuple[dict[str, float], dict[str, float]]:
        out = (dict(self.totals), dict(self.cpu))
        self.totals.clear()
        self.cpu.clear()
        return out


def bench_grpo(args) -> None:
    import torch
    from transformers import TrainerCallback

    from searchgym.train import training
    from searchgym.train.config import TrainConfig
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.train.rollout import SamplerRollout
    from searchgym.envs import DeepSearchEnv
    from searchgym.rewards.compose import WeightedSum
    from searchgym.rewards.process import StepJudgeReward

    config = TrainConfig(model=args.model, output_dir=args.output_dir, max_steps=args.steps, save_steps=10**6,
                         sampler=args.sampler,
                         searcher=args.searcher, seed=0, warmstart=not args.no_warmstart,
                         tasks_per_step=args.tasks_per_step, group_size=args.group_size,
                         lookup_tokens=int(str(args.lookup_tokens).split(",")[-1]), bf16=args.bf16_autocast)
    print(f"grpo: lookup_tokens {config.lookup_tokens}, bf16 {config.bf16}")
    timer = SectionTimer(args.device)
    timer.wrap(HFPolicy, "generate_ids", "generation")
    for attr in ("step", "reset", "fork"):
        timer.wrap(DeepSearchEnv, attr, "env+search")
    timer.wrap(WeightedSum, "__call__", "scoring")
    timer.wrap(StepJudgeReward, "score_batch", "scoring")
    timer.wrap(SamplerRollout, "__call__", "rollout other")
    steps: list[tuple[dict[str, float], dict[str, float]]] = []

    class StepClock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            timer.take()
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            sync(args.device)
            wall, cpu = timer.take()
            wall["step"], cpu["step"] = time.perf_counter() - self.start, time.process_time() - self.cpu
            steps.append((wall, cpu))
            print(f"step {len(steps)}: wall {wall['step']:.1f} s, cpu {cpu['step']:.1f} s, "
                  + ", ".join(f"{k} {v:.1f}/{cpu.get(k, 0.0):.1f}" for k, v in wall.items() if k != "step"),
                  flush=True)

    from searchgym.corpora import load_taskset
    from searchgym.train.splits import split_tasks
    from searchgym.search import build_searcher

    taskset = load_taskset(config.corpus)
    tasks = split_tasks(taskset.tasks, config.split)
    searcher = build_searcher(config.searcher, taskset.documents, progress=False)
    reward = training.build_reward(config)
    model, tokenizer = training.load_model_and_tokenizer(config.model)
    if config.warmstart:
        from searchgym.train.warmstart import load_or_warm_start

        model = load_or_warm_start(config, model, tokenizer, tasks, searcher)
    factory = training.make_sampler_factory(config, tasks, searcher, reward, tokenizer)
    trainer = training.build_trainer(config, model, tokenizer, tasks, factory, callbacks=[StepClock()])
    trainer.args.disable_tqdm = True

    original = trainer._get_per_token_logps_and_entropies

    def logps(*a, **kw):
        name = "loss forward" if torch.is_grad_enabled() else "log-probs (no grad)"
        with timer.section(name):
            return original(*a, **kw)

    trainer._get_per_token_logps_and_entropies = logps
    timer.wrap(trainer.accelerator, "backward", "backward")
    t = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - t
    order = ["generation", "env+search", "scoring", "rollout other", "log-probs (no grad)", "loss forward",
             "backward"]
    print(f"\n## GRPO step ({config.sampler} sampler, G={config.group_size}, {config.tasks_per_step} tasks/step, "
          f"{args.device}): {len(steps)} steps in {total:.1f} s")
    short = ["gen", "env", "score", "roll", "logp", "lossfw", "bwd"]
    print("per step, exclusive seconds: wall (cpu = this process's CPU seconds over all threads)")
    print(f"{'step':>4} {'total':>14} " + " ".join(f"{n:>13}" for n in short) + f" {'other':>13}")
    for i, (wall, cpu) in enumerate(steps):
        cells = [f"{wall.get(n, 0.0):6.1f}({cpu.get(n, 0.0):5.1f})" for n in order]
        other_w = wall["step"] - sum(wall.get(n, 0.0) for n in order)
        other_c = cpu["step"] - sum(cpu.get(n, 0.0) for n in order)
        print(f"{i + 1:>4} {wall['step']:7.1f}({cpu['step']:5.1f}) " + " ".join(cells)
              + f" {other_w:6.1f}({other_c:5.1f})")
    print("columns: " + ", ".join(f"{a}={b}" for a, b in zip(short, order)))
    later = steps[1:] or steps
    for label, k in (("wall", 0), ("cpu", 1)):
        mean = {n: statistics.mean(p[k].get(n, 0.0) for p in later) for n in [*order, "step"]}
        share = mean["generation"] / mean["step"] if mean["step"] else float("nan")
        train = mean["log-probs (no grad)"] + mean["loss forward"] + mean["backward"]
        print(f"mean {label} over steps {2 if len(steps) > 1 else 1}..{len(steps)}: step {mean['step']:.1f} s, "
              f"generation {mean['generation']:.1f} s ({share:.0%}), log-probs+loss+backward {train:.1f} s")


# ---------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="decode,episodes,grpo",
                    help="comma-separated: decode, episodes, grpo, lm_head")
    ap.add_argument("--bf16-autocast", action="store_true", help="decode, episodes and lm_head under bf16 autocast; "
                    "the grpo part trains with --bf16 true")
    ap.add_argument("--lm-head-tokens", type=int, default=1320, help="positions in the lm_head part")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--branches", type=int, default=8, help="n for the shared-prefix row")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-vllm", action="store_true")
    ap.add_argument("--episodes", type=int, default=16, help="episodes in the episodes part")
    ap.add_argument("--reuse-kv", default="both", choices=["both", "on", "off"],
                    help="episodes part: HFPolicy's cross-turn KV reuse on, off, or both (compared)")
    ap.add_argument("--lookup-tokens", default="0", help="episodes part: HFPolicy lookup_tokens values to compare, "
                    "e.g. 0,4 (prompt-lookup drafts; use a warm-started --model, whose turns copy their context); "
                    "grpo part: the last value is the config's lookup_tokens")
    ap.add_argument("--turn-tokens", type=int, default=48, help="episodes part: max new tokens a turn")
    ap.add_argument("--searcher", default=None, help="searcher spec (default: bm25 with Java, else bm25s)")
    ap.add_argument("--steps", type=int, default=3, help="GRPO steps in the grpo part")
    ap.add_argument("--tasks-per-step", type=int, default=2, help="GRPO tasks per step (default config: 2)")
    ap.add_argument("--group-size", type=int, default=4, help="G or k (default config: 4)")
    ap.add_argument("--sampler", default="trajectory", choices=["trajectory", "step"])
    ap.add_argument("--no-warmstart", action="store_true", help="GRPO from the base model (no SFT warm start)")
    ap.add_argument("--output-dir", default="/tmp/searchgym-bench-rollout",
                    help="GRPO output dir (its saved warm start is reused)")
    args = ap.parse_args()
    args.batch_list = [int(b) for b in args.batches.split(",")]
    args.searcher = args.searcher or ("bm25" if java_present() else "bm25s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    print(f"torch {torch.__version__}  device {args.device}  dtype {args.dtype}  threads {torch.get_num_threads()}  "
          f"searcher {args.searcher}")
    parts = args.parts.split(",")
    for part, fn in (("decode", bench_decode), ("episodes", bench_episodes), ("grpo", bench_grpo),
                     ("lm_head", bench_lm_head)):
        if part in parts:
            fn(args)
            sys.stdout.flush()


if __name__ == "__main__":
    main()

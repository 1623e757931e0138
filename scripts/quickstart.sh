#!/usr/bin/env bash
# The main job on the embedded defaults, from a clean clone: set up, index the synthetic world, watch the
# oracle solve an episode, train SmolLM2-135M-Instruct (warm start + GRPO) and evaluate the result.
# Everything runs offline on CPU. Outputs go to $OUT (default runs/quickstart).
# Extra arguments go to `searchgym train`, e.g. bash scripts/quickstart.sh --set max_steps=20
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-runs/quickstart}
sg() { .venv/bin/searchgym "$@"; }
CORPUS=$(.venv/bin/python -c "from searchgym.agents.config import TrainConfig; print(TrainConfig().corpus)")

echo "== 1/4 index: BM25 over the synthetic world ($CORPUS)"
sg index --corpus "$CORPUS" --searcher bm25

echo "== 2/4 play: the scripted oracle follows the gold hops"
sg play --corpus "$CORPUS" --policy oracle --episodes 1

echo "== 3/4 train: cold-start SFT on oracle demonstrations, then GRPO through TRL"
sg train --set "output_dir=$OUT" "$@"

echo "== 4/4 eval: the trained policy on held-out tasks"
sg eval --policy "hf:$OUT/final" --corpus "$CORPUS" --split test --limit 16 --temperature 0 \
    --reward-config "$OUT/config.yaml" --out "$OUT/eval"
echo "reward curve: $OUT/reward_curve.png   eval report: $OUT/eval/"

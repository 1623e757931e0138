"""`searchgym train`: GRPO training of a search agent, configured through TRL's ``TrlParser``.

``searchgym train --config configs/default.yaml --max_steps 20``: every searchgym key and every key of
TRL's ``GRPOConfig`` and ``ModelConfig`` is a flag; ``--help`` lists them all.
"""

from __future__ import annotations

import argparse

# the verb parses its own arguments (TRL's TrlParser), as `trl grpo` does
OWN_ARGUMENTS = True


def make_parser():
    """The ``searchgym train`` parser: the config keys plus ``--print-config``."""
    from searchgym.train.config import make_parser as config_parser

    parser = config_parser(description="Train a search agent with GRPO. YAML values (--config) replace the "
                                       "defaults; flags replace both.")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and its reward, then exit")
    return parser


def run(args: argparse.Namespace) -> int:
    """Train with GRPO from the config and flags after the verb; return the exit status."""
    import sys
    import warnings

    from searchgym.train.config import translate_set_args

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DeprecationWarning)  # a command line's deprecations are for its user
            config, extra = make_parser().parse_config(translate_set_args(args.argv))
    except (ValueError, OSError) as exc:
        print(f"searchgym train: {exc}", file=sys.stderr)
        return 2
    if extra is not None and extra.print_config:
        from searchgym.train.config import config_yaml
        from searchgym.train.training import describe_reward

        print(config_yaml(config), end="")
        print("# reward:\n" + "\n".join(f"#   {line}" for line in describe_reward(config).splitlines()))
        return 0

    from searchgym.train.training import grpo_args, train

    try:  # searchgym's checks (use_vllm without a GPU, ...) before any model is loaded
        check_report_to(grpo_args(config).report_to)
    except ValueError as exc:
        print(f"searchgym train: {exc}", file=sys.stderr)
        return 2
    result = train(config)
    rewards = [h["reward"] for h in result.log_history if "reward" in h]
    print(f"trained {len(rewards)} steps in {result.seconds:.0f}s; outputs in {result.output_dir}")
    if rewards:
        print(f"reward: first {rewards[0]:.3f}, last {rewards[-1]:.3f}")
    print(f"final model: {result.final_model_dir}")
    print(f"metrics: {result.metrics_path}")
    if result.plot_path:
        print(f"reward curve: {result.plot_path}")
    report = result.output_dir / "report.html"
    if report.exists():
        print(f"report: {report} (searchgym view {result.output_dir})")
    return 0


def check_report_to(report_to) -> None:
    """Unknown ``report_to`` integrations, and TensorBoard without its package, fail before training starts."""
    import importlib.util

    # transformers exports it lazily; pyright only sees the submodule that defines it
    from transformers.integrations import get_reporting_integration_callbacks  # pyright: ignore[reportPrivateImportUsage]

    get_reporting_integration_callbacks(report_to)  # raises ValueError naming the supported integrations
    if "tensorboard" in (report_to or ()) and not any(
            importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise ValueError("report_to tensorboard needs the tensorboard package: pip install 'searchgym[tensorboard]'")

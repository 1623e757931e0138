"""`searchgym train`: GRPO training of a search agent from a YAML config with `--set key=value` overrides."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML config (default: the embedded defaults, configs/default.yaml)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one config key, e.g. --set sampler=step --set max_steps=20 (repeatable)",
    )
    parser.add_argument("--output-dir", default=None, help="shortcut for --set output_dir=...")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    import sys

    from searchgym.agents.config import load_config, parse_overrides

    try:
        overrides = parse_overrides(args.overrides)
        if args.output_dir:
            overrides["output_dir"] = args.output_dir
        config = load_config(args.config, overrides)
    except (ValueError, OSError) as exc:
        print(f"searchgym train: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        from searchgym.agents.training import describe_reward

        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        print("# reward:\n" + "\n".join(f"#   {line}" for line in describe_reward(config).splitlines()))
        return 0

    from searchgym.agents.training import grpo_args, train

    try:  # TRL's own checks and searchgym's (use_vllm without a GPU, ...) before any model is loaded
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

    from transformers.integrations import get_reporting_integration_callbacks

    get_reporting_integration_callbacks(report_to)  # raises ValueError naming the supported integrations
    if "tensorboard" in (report_to or ()) and not any(
            importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise ValueError("report_to tensorboard needs the tensorboard package: pip install 'searchgym[tensorboard]'")

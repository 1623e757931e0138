"""`searchgym` command line: one sub-command module per verb, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> module under searchgym.cli exposing add_arguments(parser) and run(args) -> int
COMMANDS = {
    "index": ("searchgym.cli.index", "build and cache search indexes for a corpus"),
    "play": ("searchgym.cli.play", "run episodes with a policy and print them"),
    "train": ("searchgym.cli.train", "train a search agent with GRPO"),
    "eval": ("searchgym.cli.evaluate", "score a policy on a split and write a report"),
    "view": ("searchgym.cli.view", "build a run's HTML report and serve it on 127.0.0.1"),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``searchgym`` parser with one sub-command per verb in ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="searchgym", description=__doc__)
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a verb whose module is not built yet stays listed
            if exc.name != module_name:
                raise
            module = None
        own = getattr(module, "OWN_ARGUMENTS", False)  # it parses the words after the verb itself (-h too)
        sub = verbs.add_parser(verb, help=help_text, description=help_text, add_help=not own)
        sub.set_defaults(_module=module_name, _own_arguments=own)
        if module is not None and not own:
            module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``searchgym`` command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = build_parser().parse_known_args(argv)
    if args._own_arguments:
        args.argv = argv[argv.index(args.command) + 1:]
    elif rest:
        build_parser().parse_args(argv)  # argparse's own error for the unknown arguments
    module = importlib.import_module(args._module)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

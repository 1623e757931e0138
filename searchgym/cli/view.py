"""`searchgym view RUN_DIR`: (re)build a run's HTML report and serve it on 127.0.0.1.

RUN_DIR is an eval output directory (``eval.json`` + ``eval_episodes.jsonl`` -> ``eval.html``) or a
training output directory (``metrics.jsonl`` + ``episodes/step-N.jsonl`` -> ``report.html``). A
report older than its sources is rebuilt. The pages are self-contained: ``--no-serve`` only writes
them, to be opened as files or copied anywhere.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``view`` verb's options to ``parser``."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="an eval --out directory or a train output_dir")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    parser.add_argument("--no-serve", action="store_true", help="write the HTML report(s) and exit")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the report(s) even if up to date")


def _is_eval_json(path: Path) -> bool:
    if path.name.endswith(".tmp") or path.stat().st_size > 512 * 2**20:
        return False
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return False
    return isinstance(payload, dict) and {"episodes", "summary", "policy"} <= payload.keys()


def _stale(target: Path, sources: list[Path]) -> bool:
    if not target.exists():
        return True
    built = target.stat().st_mtime
    return any(s.exists() and s.stat().st_mtime > built for s in sources)


def build_reports(run_dir: str | Path, *, rebuild: bool = False) -> list[Path]:
    """The run's HTML report(s), rebuilt where missing or older than their sources.

    Raises ``FileNotFoundError`` for a missing directory and ``ValueError`` when it holds neither an
    eval report nor a training run.
    """
    from searchgym.eval.report import EPISODES_SUFFIX
    from searchgym.train.episode_log import EPISODES_DIR
    from searchgym.train.report_html import TRAIN_HTML, write_eval_html, write_train_html

    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    pages: list[Path] = []
    for path in sorted(root.glob("*.json")):
        if _is_eval_json(path):
            html = path.with_suffix(".html")
            sources = [path, path.with_name(path.stem + EPISODES_SUFFIX)]
            pages.append(write_eval_html(path) if rebuild or _stale(html, sources) else html)
    episodes = root / EPISODES_DIR
    if (root / "metrics.jsonl").exists() or episodes.is_dir():
        html = root / TRAIN_HTML
        sources = [root / "metrics.jsonl", root / "config.yaml", *sorted(episodes.glob("step-*.jsonl"))]
        if rebuild or _stale(html, sources) or (episodes.is_dir() and episodes.stat().st_mtime > html.stat().st_mtime):
            write_train_html(root)
        pages.append(html)
    if not pages:
        raise ValueError(f"{root} holds neither an eval report (<stem>.json from searchgym eval) nor a training run "
                         "(metrics.jsonl or episodes/ from searchgym train)")
    return pages


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass


def make_server(directory: str | Path, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``directory`` on 127.0.0.1 (``port`` 0 picks a free one); not yet serving."""
    handler = partial(_QuietHandler, directory=str(directory))
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def run(args: argparse.Namespace) -> int:
    """Build a run's HTML report(s), serve them unless ``--no-serve``, and return the exit status."""
    import sys

    try:
        pages = build_reports(args.run_dir, rebuild=args.rebuild)
    except (FileNotFoundError, ValueError) as exc:
        print(f"searchgym view: {exc}", file=sys.stderr)
        return 2
    if args.no_serve:
        for page in pages:
            print(page)
        return 0
    root = Path(args.run_dir).resolve()
    try:
        server = make_server(root, args.port)
    except OSError as exc:
        print(f"searchgym view: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 2
    port = server.server_address[1]
    for page in pages:
        print(f"http://127.0.0.1:{port}/{page.resolve().relative_to(root).as_posix()}", flush=True)
    print("serving; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

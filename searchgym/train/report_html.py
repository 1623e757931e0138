"""Self-contained HTML reports of evaluation and training runs (``searchgym view``).

One file, no server and no network; agent text is rendered through ``textContent`` only, and the
URL hash (``#step=5&filter=wrong&q=river&open=0``) drives the page. See docs/training.md.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from searchgym._io import atomic_write_text
from searchgym.train.episode_log import EPISODES_DIR, EPISODES_SUFFIX, read_jsonl, to_json_value

EVAL_SUFFIX = ".html"
TRAIN_HTML = "report.html"
PALETTE = ("#3b6fb6", "#e07b39", "#3a9a5b", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
           "#64b5cd")


# ---------------------------------------------------------------------------------------------
# SVG plots


def _finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _nice_ticks(lo: float, hi: float, n: int = 4, *, integer: bool = False) -> list[float]:
    """Round tick values from at or below ``lo`` to at or above ``hi`` (whole numbers if ``integer``)."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    start, end = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return [round(start + i * step, 10) for i in range(int(round((end - start) / step)) + 1)]


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:.3g}"
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:.1f}".rstrip("0").rstrip(".")


def _svg_open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{html.escape(title)}" class="plot">',
            f'<text x="{width / 2:.0f}" y="15" class="plot-title" text-anchor="middle">{html.escape(title)}</text>']


def svg_bar_chart(items: Sequence[tuple[str, float | None]], *, title: str, ymax: float | None = None,
                  width: int = 380, height: int = 210, color: str | Sequence[str] = PALETTE[0]) -> str:
    """Vertical bars with their values written above; ``None``/NaN bars are drawn as 'n/a'. ``ymax``
    is the least top of the axis (a larger value still fits); ``color`` is one colour or one per bar."""
    left, right, top, bottom = 34, 8, 36, 42
    values = [v if _finite(v) else None for _, v in items]
    hi = max([v for v in values if v is not None] + [ymax if ymax is not None else 1e-9])
    lo = min([0.0] + [v for v in values if v is not None])
    ticks = _nice_ticks(lo, hi)
    hi, lo = max(hi, ticks[-1]), min(lo, ticks[0])
    ph, pw = height - top - bottom, width - left - right
    y = lambda v: top + ph * (1 - (v - lo) / (hi - lo))  # noqa: E731
    out = _svg_open(width, height, title)
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid"/>'
                   f'<text x="{left - 4}" y="{y(t) + 3.5:.1f}" text-anchor="end" class="tick">{_fmt_tick(t)}</text>')
    n = max(len(items), 1)
    slot = pw / n
    colors = [color] * len(items) if isinstance(color, str) else list(color)
    for i, ((label, _), v) in enumerate(zip(items, values)):
        cx = left + slot * (i + 0.5)
        bw = min(slot * 0.7, 46)
        if v is None:
            out.append(f'<text x="{cx:.1f}" y="{y(lo) - 4:.1f}" text-anchor="middle" class="val na">n/a</text>')
        else:
            y0, y1 = sorted((y(0.0), y(v)))
            out.append(f'<rect x="{cx - bw / 2:.1f}" y="{y0:.1f}" width="{bw:.1f}" height="{max(y1 - y0, 0.5):.1f}" '
                       f'fill="{colors[i % len(colors)]}" rx="2"><title>{html.escape(label)}: {v:.4g}</title></rect>'
                       f'<text x="{cx:.1f}" y="{y0 - 3:.1f}" text-anchor="middle" class="val">{v:.3g}</text>')
        out.append(f'<text x="{cx:.1f}" y="{height - bottom + 13}" text-anchor="middle" class="tick">'
                   f'{html.escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def svg_line_chart(xs: Sequence[float], series: Mapping[str, Sequence[float | None]], *, title: str,
                   xlabel: str = "step", width: int = 380, height: int = 210) -> str:
    """Lines over a shared x axis (gaps where a value is missing), a legend when there are several."""
    left, right, top, bottom = 44, 10, 28, 34 + (14 if len(series) > 1 else 0)
    pts = [v for ys in series.values() for v in ys if _finite(v)]
    lo, hi = (min(pts), max(pts)) if pts else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = _nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    ph, pw = height - top - bottom, width - left - right
    X = lambda v: left + pw * (v - x0) / (x1 - x0)  # noqa: E731
    Y = lambda v: top + ph * (1 - (v - lo) / (hi - lo))  # noqa: E731
    out = _svg_open(width, height, title)
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{Y(t):.1f}" y2="{Y(t):.1f}" class="grid"/>'
                   f'<text x="{left - 4}" y="{Y(t) + 3.5:.1f}" text-anchor="end" class="tick">{_fmt_tick(t)}</text>')
    for t in _nice_ticks(x0, x1, 5, integer=all(float(v).is_integer() for v in xs)):
        if x0 <= t <= x1:
            out.append(f'<text x="{X(t):.1f}" y="{top + ph + 13}" text-anchor="middle" class="tick">{_fmt_tick(t)}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph + 26}" text-anchor="middle" class="axis">'
               f'{html.escape(xlabel)}</text>')
    for k, (name, ys) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for xv, yv in zip(xs, ys):
            if _finite(yv):
                runs[-1].append((X(xv), Y(yv)))
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) > 1:
                d = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.8"/>')
            for px, py in run:
                out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{color}"/>')
        if len(series) > 1:
            lx = left + 4 + k * (pw / len(series))
            out.append(f'<rect x="{lx:.1f}" y="{height - 12}" width="10" height="3" fill="{color}"/>'
                       f'<text x="{lx + 13:.1f}" y="{height - 8}" class="tick">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# pages


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if _finite(v) else "n/a"


def _status_counts(episodes: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    counts = {"solved": 0, "wrong": 0, "truncated": 0}
    for e in episodes:
        counts[e.get("status", "truncated")] = counts.get(e.get("status", "truncated"), 0) + 1
    counts["invalid turns"] = sum(1 for e in episodes if (e.get("invalid_turns") or 0) > 0)
    return [(k, float(v)) for k, v in counts.items()]


def _record_from_score(score: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal episode record for an eval JSON written before episodes were kept whole."""
    from searchgym.train.episode_log import episode_status

    pred = score.get("prediction")
    return {"task": {"id": score.get("task_id", ""), "question": score.get("question", ""),
                     "answers": list(score.get("answers") or []), "hops": [], "support_ids": list(score.get("gold_support") or [])},
            "steps": [], "seen": [], "final_answer": pred, "status": episode_status(pred is not None, score.get("em") or 0.0),
            "em": score.get("em"), "f1": score.get("f1"), "searches": score.get("searches"),
            "invalid_turns": score.get("invalid"), "citations": {}, "rubric": None, "rubric_value": score.get("rubric"),
            "reward": score.get("reward"), "components": {}, "cited": list(score.get("cited") or []),
            "missing_turns": True}


def eval_page_data(payload: Mapping[str, Any], records: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The page data of an evaluation: ``payload`` is ``eval.json``, ``records`` its episode records."""
    scores = list(payload.get("episodes") or [])
    if records:
        episodes = [dict(r) for r in records]
        for rec, score in zip(episodes, scores):  # scores carry citation P/R of older records too
            for key in ("citation_precision", "citation_recall"):
                rec.setdefault(key, score.get(key))
    else:
        episodes = [_record_from_score(s) for s in scores]
    summary = dict(payload.get("summary") or {})
    card_keys = [("em", "EM"), ("f1", "F1"), ("citation_precision", "cit. P"), ("citation_recall", "cit. R"),
                 ("rubric", "rubric"), ("reward", "reward"), ("answered", "answered"),
                 ("searches_per_episode", "searches / ep"), ("steps_per_episode", "turns / ep"),
                 ("invalid_per_episode", "invalid / ep")]
    cards = [{"label": label, "value": _fmt(summary.get(key))} for key, label in card_keys
             if not (key == "reward" and summary.get(key) is None)]
    bars = [(label, summary.get(key)) for key, label in card_keys[:7] if not (key == "reward" and summary.get(key) is None)]
    hist: dict[int, int] = {}
    for e in episodes:
        n = int(e.get("searches") or 0)
        hist[n] = hist.get(n, 0) + 1
    plots = [svg_bar_chart(bars, title="metrics (mean over episodes)", ymax=1.0),
             svg_bar_chart(_status_counts(episodes), title="episodes by outcome", color=STATUS_COLORS),
             svg_bar_chart([(str(k), float(hist.get(k, 0))) for k in range(0, max(hist, default=0) + 1)],
                           title="searches per episode (episodes)", color=PALETTE[1])]
    return {
        "kind": "eval",
        "title": "searchgym eval" + (f": {payload['policy']}" if payload.get("policy") else ""),
        "meta": [[k, str(payload[k])] for k in ("policy", "corpus", "split") if payload.get(k)]
                + [["episodes", str(len(episodes))]],
        "cards": cards,
        "plots": plots,
        "steps": [{"step": None, "label": "evaluation", "episodes": episodes, "samples": [], "header": {}}],
    }


STATUS_COLORS = ("#2f8a4f", "#c0392b", "#d08a1c", "#7e5bb5")  # solved, wrong, truncated, invalid turns

TRAIN_PLOT_KEYS = ("reward", "reward_std", "loss", "kl", "entropy", "completions/mean_length",
                   "completions/clipped_ratio")


def train_page_data(run_dir: str | Path, title: str = "") -> dict[str, Any]:
    """The page data of a training run directory: ``metrics.jsonl``, ``config.yaml`` and
    ``episodes/step-N.jsonl``."""
    from searchgym.train.metrics import read_jsonl as read_metrics

    root = Path(run_dir)
    metrics_path = root / "metrics.jsonl"
    records = read_metrics(metrics_path) if metrics_path.exists() else []
    rows = [r for r in records if "reward" in r and _finite(r.get("step"))]
    config: dict[str, Any] = {}
    if (root / "config.yaml").exists():
        import yaml

        loaded = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
        config = loaded if isinstance(loaded, dict) else {}
    keys = [k for k in TRAIN_PLOT_KEYS if any(_finite(r.get(k)) for r in rows)]
    keys += sorted({k for r in rows for k in r if k.startswith(("components/", "episodes/")) and _finite(r.get(k))})
    xs = [float(r["step"]) for r in rows]

    def chart(title: str, names: Sequence[str], **kw: Any) -> str | None:
        present = [n for n in names if n in keys]
        if not present:
            return None
        short = {n: n.split("/", 1)[-1] for n in present}
        return svg_line_chart(xs, {short[n]: [r.get(n) for r in rows] for n in present}, title=title, **kw)

    em_key = next((k for k in keys if k.split("/")[-1].split(".")[-1] == "em"), None)
    main = [chart("reward (batch mean, std)", ["reward", "reward_std"]),
            chart("outcome", [k for k in ("components/outcome" if "components/outcome" in keys else em_key,
                                          "components/f1") if k]),
            chart("citation rubric", ["components/rubric"]),
            chart("turns and searches per episode", ["episodes/steps_per_episode", "episodes/searches_per_episode"]),
            chart("loss", ["loss"])]
    plots = [p for p in main if p]
    # every logged metric on its own, shown folded under the main plots
    more_plots = [svg_line_chart(xs, {k: [r.get(k) for r in rows]}, title=k, width=300, height=170) for k in keys]
    last = rows[-1] if rows else {}
    cards = [{"label": "steps logged", "value": str(len(rows))}]
    for k in ("reward", "reward_std"):
        if _finite(last.get(k)):
            cards.append({"label": f"{k} (last)", "value": _fmt(last[k])})
    if em_key and _finite(last.get(em_key)):
        cards.append({"label": "EM (last)", "value": _fmt(last[em_key])})
    for k in ("episodes/steps_per_episode", "episodes/searches_per_episode"):
        if _finite(last.get(k)):
            cards.append({"label": k.split("/")[1].replace("_per_", " / ").replace("_", " "), "value": _fmt(last[k])})
    runtime = next((r.get("train_runtime") for r in reversed(records) if _finite(r.get("train_runtime"))), None)
    if runtime is not None:
        cards.append({"label": "runtime", "value": f"{runtime:.0f} s"})

    steps = []
    for path in sorted((root / EPISODES_DIR).glob("step-*.jsonl"), key=_step_number):
        lines = read_jsonl(path)
        header = next((r for r in lines if r.get("type") == "header"), {})
        steps.append({"step": _step_number(path), "label": f"step {_step_number(path)}", "header": header,
                      "episodes": [r for r in lines if r.get("type") == "episode"],
                      "samples": [r for r in lines if r.get("type") == "sample"]})
    meta_keys = ("model", "corpus", "sampler", "group_size", "judge", "judge_weight", "citation_rubric",
                 "cgrpo_alpha", "max_steps", "learning_rate", "log_episodes_every")
    meta = [[k, ", ".join(map(str, config[k])) if isinstance(config[k], list) else str(config[k])]
            for k in meta_keys if k in config]
    meta.append(["run", str(root)])
    return {"kind": "train", "title": title or f"searchgym train: {root.name}", "meta": meta, "cards": cards,
            "plots": plots, "more_plots": more_plots, "steps": steps}


def _step_number(path: Path) -> int:
    match = re.fullmatch(r"step-(\d+)\.jsonl", path.name)
    return int(match.group(1)) if match else -1


def render_html(data: Mapping[str, Any]) -> str:
    """The page: the template with ``data`` embedded (``<`` ``>`` ``&`` escaped so no text can close
    the script element)."""
    blob = json.dumps(to_json_value(data), ensure_ascii=False, allow_nan=False)
    blob = blob.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    blob = blob.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (_TEMPLATE.replace("__TITLE__", html.escape(str(data.get("title", "searchgym"))))
            .replace("__CSS__", _CSS).replace("__JS__", _JS).replace("__DATA__", blob))


def write_eval_html(json_path: str | Path, out_path: str | Path | None = None) -> Path:
    """(Re)build ``<stem>.html`` from ``<stem>.json`` and ``<stem>_episodes.jsonl`` (when present)."""
    json_path = Path(json_path)
    try:
        payload = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{json_path}: not an eval report ({exc.msg})") from None
    if not isinstance(payload, dict) or "episodes" not in payload or "summary" not in payload:
        raise ValueError(f"{json_path}: not an eval report (no 'episodes' and 'summary')")
    episodes_path = json_path.with_name(json_path.stem + EPISODES_SUFFIX)
    records = read_jsonl(episodes_path) if episodes_path.exists() else None
    out = Path(out_path) if out_path else json_path.with_suffix(EVAL_SUFFIX)
    return atomic_write_text(out, render_html(eval_page_data(payload, records)))


def write_train_html(run_dir: str | Path, out_path: str | Path | None = None, *, title: str = "") -> Path:
    """(Re)build ``<run_dir>/report.html`` from the run's metrics and logged episodes."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"training run directory {root} does not exist")
    out = Path(out_path) if out_path else root / TRAIN_HTML
    return atomic_write_text(out, render_html(train_page_data(root, title)))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<header id="top"><h1 id="title"></h1><dl id="meta"></dl></header>
<main>
<section id="summary"><div id="cards"></div><div id="plots"></div>
<details id="more-plots" hidden><summary></summary><div class="plots"></div></details></section>
<nav id="steps" hidden></nav>
<section id="episodes-section">
  <h2>Episodes</h2>
  <div id="toolbar"><div id="filters" role="group" aria-label="filter episodes"></div>
  <input id="search" type="search" placeholder="filter by question, id or answer"></div>
  <div id="panes"><div id="list-pane"><table id="episode-list"><thead><tr><th>#</th><th>outcome</th>
  <th>question</th><th>answer</th><th>EM</th><th>F1</th><th>rubric</th><th>searches</th><th id="th-reward">reward</th></tr></thead>
  <tbody></tbody></table><p id="empty" hidden>No episode matches.</p></div>
  <div id="detail"><p class="hint">Select an episode to see its turns.</p></div></div>
</section>
<section id="groups-section" hidden><h2 id="groups-title">Groups</h2><p class="hint" id="groups-hint"></p>
<div id="groups"></div></section>
</main>
<script type="application/json" id="sg-data">__DATA__</script>
<script>__JS__</script>
</body>
</html>
"""

_CSS = r"""
:root { --fg:#1d2330; --muted:#5d6675; --line:#dde1e8; --bg:#f6f7f9; --card:#fff; --accent:#3b6fb6;
  --ok:#2f8a4f; --bad:#c0392b; --warn:#b7791f; --gold:#b8860b; --goldbg:#fff6d8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--fg);
  background:var(--bg); }
header { background:#1f2a3c; color:#fff; padding:14px 24px 10px; }
header h1 { margin:0 0 6px; font-size:19px; font-weight:600; }
#meta { display:flex; flex-wrap:wrap; gap:4px 18px; margin:0; font-size:12.5px; color:#c9d3e3; }
#meta div { display:flex; gap:5px; } #meta dt { color:#8fa1bd; } #meta dd { margin:0; word-break:break-all; }
main { padding:16px 24px 40px; max-width:1600px; margin:0 auto; }
h2 { font-size:16px; margin:22px 0 10px; }
#cards { display:flex; flex-wrap:wrap; gap:10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:104px; }
.card .v { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .l { font-size:12px; color:var(--muted); }
#plots, #more-plots .plots { display:flex; flex-wrap:wrap; gap:10px; margin-top:12px; }
#plots svg, #more-plots svg { background:var(--card); border:1px solid var(--line); border-radius:8px; }
#more-plots { margin-top:10px; }
.plot-title { font-size:12px; font-weight:600; fill:var(--fg); } .tick { font-size:10px; fill:var(--muted); }
.axis { font-size:10.5px; fill:var(--muted); } .val { font-size:10px; fill:var(--fg); } .val.na { fill:var(--muted); }
.grid { stroke:#eceff3; stroke-width:1; }
#steps { display:flex; flex-wrap:wrap; gap:6px; align-items:center; margin-top:18px; }
#steps .lbl { color:var(--muted); margin-right:4px; }
button { font:inherit; cursor:pointer; }
.pill { border:1px solid var(--line); background:var(--card); border-radius:999px; padding:3px 12px; color:var(--fg); }
.pill:hover { border-color:var(--accent); }
.pill.active { background:var(--accent); border-color:var(--accent); color:#fff; }
.pill .n { opacity:.75; margin-left:4px; font-variant-numeric:tabular-nums; }
#toolbar { display:flex; flex-wrap:wrap; gap:10px; align-items:center; margin-bottom:10px; }
#filters { display:flex; flex-wrap:wrap; gap:6px; }
#search { flex:1; min-width:220px; max-width:420px; padding:5px 10px; border:1px solid var(--line); border-radius:6px; font:inherit; }
#panes { display:grid; grid-template-columns:minmax(440px, 6fr) 7fr; gap:14px; align-items:start; }
@media (max-width: 1000px) { #panes { grid-template-columns:1fr; } }
#list-pane { background:var(--card); border:1px solid var(--line); border-radius:8px; max-height:78vh; overflow:auto; }
table { border-collapse:collapse; width:100%; }
#episode-list th { position:sticky; top:0; background:#eef1f5; font-size:12px; text-align:left; padding:6px 6px;
  color:var(--muted); font-weight:600; z-index:1; }
#episode-list td { padding:5px 6px; border-top:1px solid var(--line); vertical-align:top; font-size:13px; }
#episode-list td.num { font-variant-numeric:tabular-nums; text-align:right; white-space:nowrap; }
#episode-list tbody tr { cursor:pointer; } #episode-list tbody tr:hover { background:#f3f6fb; }
#episode-list tbody tr.selected { background:#e3ecf8; }
.q { display:-webkit-box; -webkit-line-clamp:2; -webkit-box-orient:vertical; overflow:hidden; }
.badge { display:inline-block; border-radius:4px; padding:0 6px; font-size:11.5px; font-weight:600; white-space:nowrap; }
.b-solved { background:#e1f3e7; color:var(--ok); } .b-wrong { background:#fbe4e1; color:var(--bad); }
.b-truncated { background:#fdf0d7; color:var(--warn); } .b-invalid { background:#ece6f6; color:#6a4fa3; }
.b-search { background:#e4edf9; color:#2c5da0; } .b-open { background:#e6f2f2; color:#2d7a7a; }
.b-answer { background:#e1f3e7; color:var(--ok); } .b-gold { background:var(--goldbg); color:var(--gold); }
.b-chosen { background:var(--accent); color:#fff; }
#detail { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px; min-height:200px; }
#detail h3 { margin:0 0 6px; font-size:16px; } #detail h4 { margin:16px 0 6px; font-size:13.5px; }
.hint { color:var(--muted); }
.kv { display:grid; grid-template-columns:max-content 1fr; gap:3px 12px; font-size:13px; }
.kv .k { color:var(--muted); }
.hops { margin:4px 0 0; padding-left:20px; font-size:13px; } .hops li { margin:2px 0; }
.turn { border:1px solid var(--line); border-left:4px solid #9aa7bb; border-radius:6px; padding:8px 12px; margin:10px 0; }
.turn.k-search { border-left-color:#3b6fb6; } .turn.k-open { border-left-color:#2d8a8a; }
.turn.k-answer { border-left-color:var(--ok); } .turn.k-invalid { border-left-color:#8e6cc4; background:#fbf9fe; }
.turn-head { display:flex; gap:8px; align-items:center; font-size:12.5px; color:var(--muted); margin-bottom:4px; }
.text { white-space:pre-wrap; word-break:break-word; font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  background:#f8f9fb; border-radius:4px; padding:6px 8px; margin:4px 0; }
.tag { color:#2c5da0; font-weight:600; }
.cite { border-radius:3px; padding:0 3px; font-weight:600; }
.c-valid { background:#dff1e5; color:var(--ok); } .c-unseen { background:#fbe0dc; color:var(--bad); }
.c-unsupported { background:#fdf0d7; color:var(--warn); } .c-unknown { background:#eceff3; color:var(--muted); }
.err { color:var(--bad); font-size:13px; }
.hits { list-style:none; margin:4px 0; padding:0; }
.hits li { border:1px solid var(--line); border-radius:5px; padding:4px 8px; margin:4px 0; font-size:12.5px; }
.hits li.gold { border-color:#e8c65a; background:var(--goldbg); }
.docid { font:12px ui-monospace,Menlo,Consolas,monospace; color:#444; }
.doctitle { font-weight:600; margin:0 6px; }
.snippet { color:#3a4150; display:block; margin-top:2px; }
details > summary { cursor:pointer; color:var(--muted); font-size:12.5px; }
.chips { display:flex; flex-wrap:wrap; gap:6px; }
.chip { border-radius:5px; padding:2px 8px; font-size:12.5px; }
table.small { font-size:12.5px; margin:4px 0; }
table.small th, table.small td { border:1px solid var(--line); padding:3px 7px; text-align:left; vertical-align:top; }
table.small th { background:#f1f3f6; font-weight:600; color:var(--muted); }
table.small td.num { text-align:right; font-variant-numeric:tabular-nums; }
.yes { color:var(--ok); font-weight:600; } .no { color:var(--bad); }
.group { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; margin:10px 0; }
.group-head { font-size:13px; margin-bottom:8px; display:flex; gap:12px; flex-wrap:wrap; align-items:baseline; }
.group-head .gid { font:12.5px ui-monospace,Menlo,Consolas,monospace; font-weight:600; }
.cands { display:grid; grid-auto-flow:column; grid-auto-columns:minmax(230px, 1fr); gap:8px; overflow-x:auto; }
.cand { border:1px solid var(--line); border-radius:6px; padding:6px 8px; font-size:12.5px; min-width:0; }
.cand.chosen { border-color:var(--accent); box-shadow:0 0 0 1px var(--accent) inset; }
.cand .text { max-height:220px; overflow:auto; }
.advbar { height:6px; background:#eceff3; border-radius:3px; position:relative; margin:3px 0 5px; }
.advbar span { position:absolute; top:0; bottom:0; border-radius:3px; }
.scores { display:flex; gap:10px; font-variant-numeric:tabular-nums; }
a { color:var(--accent); }
"""

_JS = r"""
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('sg-data').textContent);
  var FILTERS = [['all', 'all'], ['solved', 'solved'], ['wrong', 'wrong'], ['truncated', 'truncated'],
                 ['invalid', 'invalid turns']];
  var state = {step: 0, filter: 'all', q: '', open: null};

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'cls') node.className = v;
        else if (k === 'on') Object.keys(v).forEach(function (ev) { node.addEventListener(ev, v[ev]); });
        else node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }
  function add(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(node, c); }); return; }
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  function num(v, digits) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return 'n/a';
    return v.toFixed(digits === undefined ? 3 : digits);
  }
  function badge(text, cls) { return el('span', {cls: 'badge ' + cls, text: text}); }
  function currentStep() { return DATA.steps[state.step] || {episodes: [], samples: []}; }
  function matches(e, filter) {
    if (filter === 'all') return true;
    if (filter === 'invalid') return (e.invalid_turns || 0) > 0;
    return e.status === filter;
  }
  function visibleEpisodes() {
    var q = state.q.trim().toLowerCase();
    return currentStep().episodes.map(function (e, i) { return [e, i]; }).filter(function (p) {
      var e = p[0];
      if (!matches(e, state.filter)) return false;
      if (!q) return true;
      var hay = [e.task.id, e.task.question, e.final_answer || '', (e.task.answers || []).join(' ')].join(' ').toLowerCase();
      return hay.indexOf(q) >= 0;
    });
  }

  // ---- header, cards, plots
  function renderHeader() {
    document.getElementById('title').textContent = DATA.title;
    var meta = document.getElementById('meta');
    (DATA.meta || []).forEach(function (kv) { meta.appendChild(el('div', null, el('dt', {text: kv[0]}), el('dd', {text: kv[1]}))); });
    var cards = document.getElementById('cards');
    (DATA.cards || []).forEach(function (c) {
      cards.appendChild(el('div', {cls: 'card'}, el('div', {cls: 'v', text: c.value}), el('div', {cls: 'l', text: c.label})));
    });
    // the plots are SVG drawn by searchgym itself (no agent text), embedded as markup
    document.getElementById('plots').innerHTML = (DATA.plots || []).join('');
    if ((DATA.more_plots || []).length) {
      var more = document.getElementById('more-plots');
      more.hidden = false;
      more.querySelector('summary').textContent = 'every logged metric (' + DATA.more_plots.length + ' plots)';
      more.querySelector('.plots').innerHTML = DATA.more_plots.join('');
    }
  }

  // ---- training steps
  function renderSteps() {
    var nav = document.getElementById('steps');
    nav.textContent = '';
    if (DATA.kind !== 'train') return;
    nav.hidden = false;
    nav.appendChild(el('span', {cls: 'lbl', text: DATA.steps.length ? 'episodes logged at' : 'no episodes were logged (log_episodes_every = 0)'}));
    DATA.steps.forEach(function (s, i) {
      nav.appendChild(el('button', {cls: 'pill' + (i === state.step ? ' active' : ''), 'data-step': s.step, text: s.label,
        on: {click: function () { setState({step: i, open: null}); }}}));
    });
  }

  // ---- filters and list
  function renderFilters() {
    var box = document.getElementById('filters');
    box.textContent = '';
    var eps = currentStep().episodes;
    FILTERS.forEach(function (f) {
      var n = eps.filter(function (e) { return matches(e, f[0]); }).length;
      box.appendChild(el('button', {cls: 'pill' + (state.filter === f[0] ? ' active' : ''), 'data-filter': f[0],
        'aria-pressed': state.filter === f[0] ? 'true' : 'false',
        on: {click: function () { setState({filter: f[0], open: null}); }}}, f[1], el('span', {cls: 'n', text: n})));
    });
  }
  function statusBadge(e) {
    var out = [badge(e.status, 'b-' + e.status)];
    if ((e.invalid_turns || 0) > 0) out.push(' ', badge(e.invalid_turns + ' invalid', 'b-invalid'));
    return out;
  }
  function renderList() {
    var body = document.querySelector('#episode-list tbody');
    body.textContent = '';
    var vis = visibleEpisodes();
    var hasReward = currentStep().episodes.some(function (e) { return typeof e.reward === 'number'; });
    document.getElementById('th-reward').hidden = !hasReward;
    vis.forEach(function (p) {
      var e = p[0], i = p[1];
      var tr = el('tr', {'data-index': i, 'data-status': e.status, cls: state.open === i ? 'selected' : '',
        on: {click: function () { setState({open: i}); }}},
        el('td', {cls: 'num', text: i}),
        el('td', null, statusBadge(e)),
        el('td', null, el('div', {cls: 'q', title: e.task.question, text: e.task.question})),
        el('td', null, el('div', {cls: 'q', text: e.final_answer === null || e.final_answer === undefined ? '—'
          : e.final_answer.replace(/\s*\[[^\[\]\s]{1,80}\]/g, '')})),
        el('td', {cls: 'num', text: num(e.em, 0)}), el('td', {cls: 'num', text: num(e.f1, 2)}),
        el('td', {cls: 'num', text: num(e.rubric_value, 2)}), el('td', {cls: 'num', text: e.searches}),
        hasReward ? el('td', {cls: 'num', text: num(e.reward, 2)}) : null);
      body.appendChild(tr);
    });
    document.getElementById('empty').hidden = vis.length > 0;
  }

  // ---- one episode
  function docsById(e) { var m = {}; (e.seen || []).forEach(function (d) { m[d.id] = d; }); return m; }
  function citeClass(e, id) {
    var v = (e.citations || {})[id];
    return 'cite c-' + (v ? v.verdict : 'unknown');
  }
  // the agent's text with action tags and [doc] citations marked (text nodes only)
  function markedText(e, text) {
    var box = el('div', {cls: 'text'});
    var re = /(<\/?(?:search|open|answer|think)>)|\[([^\[\]\s]{1,80})\]/gi;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) box.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) box.appendChild(el('span', {cls: 'tag', text: m[1]}));
      else {
        var v = (e.citations || {})[m[2]];
        box.appendChild(el('span', {cls: citeClass(e, m[2]), title: v ? v.verdict + ': ' + v.reason : 'citation', text: m[0]}));
      }
      last = re.lastIndex;
    }
    if (last < text.length) box.appendChild(document.createTextNode(text.slice(last)));
    return box;
  }
  function docItem(e, docs, id, full) {
    var d = docs[id], gold = (e.task.support_ids || []).indexOf(id) >= 0;
    var cited = (e.citations || {})[id];
    var text = d ? d.text : '';
    if (!full && text.length > 240) text = text.slice(0, 240) + ' …';
    return el('li', {cls: gold ? 'gold' : ''},
      el('span', {cls: 'docid', text: id}), d ? el('span', {cls: 'doctitle', text: d.title}) : null,
      gold ? badge('gold support', 'b-gold') : null, ' ',
      cited ? el('span', {cls: 'chip c-' + cited.verdict, text: 'cited: ' + cited.verdict}) : null,
      text ? el('span', {cls: 'snippet', text: text}) : null);
  }
  function renderTurn(e, docs, s) {
    var card = el('div', {cls: 'turn k-' + s.kind, 'data-turn': s.index},
      el('div', {cls: 'turn-head'}, el('strong', {text: 'Turn ' + (s.index + 1)}), badge(s.kind, 'b-' + s.kind)));
    card.appendChild(markedText(e, s.text || ''));
    if (s.error) card.appendChild(el('div', {cls: 'err', text: 'invalid: ' + s.error}));
    if (s.kind === 'search') {
      card.appendChild(el('div', null, el('strong', {text: 'query: '}), s.query || ''));
      var hits = el('ul', {cls: 'hits'});
      (s.hits || []).forEach(function (id) { hits.appendChild(docItem(e, docs, id, false)); });
      if (!(s.hits || []).length) hits.appendChild(el('li', {text: 'no hits'}));
      card.appendChild(hits);
    } else if (s.kind === 'open') {
      card.appendChild(el('div', null, el('strong', {text: 'opened: '})));
      card.appendChild(el('ul', {cls: 'hits'}, docItem(e, docs, s.doc_id || '', true)));
    } else if (s.kind === 'answer') {
      card.appendChild(el('div', null, el('strong', {text: 'answer: '}), s.answer || '', ' ',
        e.em >= 1 ? badge('exact match', 'b-solved') : badge('no exact match (F1 ' + num(e.f1, 2) + ')', 'b-wrong')));
    }
    if (s.observation) card.appendChild(el('details', null, el('summary', {text: 'environment output'}),
      el('div', {cls: 'text', text: s.observation})));
    return card;
  }
  function rubricTable(e) {
    var t = el('table', {cls: 'small rubric'}, el('thead', null, el('tr', null,
      ['#', 'rubric', 'identified', 'supported', 'connected', 'why'].map(function (h) { return el('th', {text: h}); }))));
    var body = el('tbody');
    e.rubric.forEach(function (r) {
      var ident = Object.keys(r.identified || {}).map(function (k) {
        var v = r.identified[k];
        return el('div', {cls: v ? 'yes' : 'no', text: '<' + k + '> ' + (v ? '= ' + v : 'not named')});
      });
      body.appendChild(el('tr', null, el('td', {cls: 'num', text: r.index}),
        el('td', null, el('div', {text: r.rubric}), r.filled && r.filled !== r.rubric ? el('div', {cls: 'hint', text: '→ ' + r.filled}) : null),
        el('td', null, ident),
        el('td', {cls: r.supported ? 'yes' : 'no', text: (r.supported ? 'yes' : 'no') + ((r.grounded_by || []).length ? ' [' + r.grounded_by.join(', ') + ']' : '')}),
        el('td', {cls: r.connected ? 'yes' : 'no', text: r.connected ? 'yes' : 'no'}),
        el('td', {cls: 'hint', text: r.reason || ''})));
    });
    t.appendChild(body);
    return t;
  }
  function componentsTable(comps) {
    var keys = Object.keys(comps || {}).sort();
    if (!keys.length) return el('p', {cls: 'hint', text: 'no reward components recorded'});
    var t = el('table', {cls: 'small components'}, el('thead', null, el('tr', null, el('th', {text: 'component'}), el('th', {text: 'value'}))));
    var body = el('tbody');
    keys.forEach(function (k) { body.appendChild(el('tr', null, el('td', {text: k}), el('td', {cls: 'num', text: num(comps[k], 3)}))); });
    t.appendChild(body);
    return t;
  }
  function renderDetail() {
    var box = document.getElementById('detail');
    box.textContent = '';
    var e = state.open === null ? null : currentStep().episodes[state.open];
    if (!e) { box.appendChild(el('p', {cls: 'hint', text: 'Select an episode to see its turns.'})); return; }
    box.setAttribute('data-open', state.open);
    var docs = docsById(e);
    box.appendChild(el('h3', {text: e.task.question}));
    var kv = el('div', {cls: 'kv'});
    function row(k, v) { kv.appendChild(el('div', {cls: 'k', text: k})); kv.appendChild(el('div', null, v)); }
    row('task', el('span', {cls: 'docid', text: e.task.id + (e.task.kind ? '  (' + e.task.kind + ')' : '')}));
    row('gold answer', (e.task.answers || []).join(' | '));
    row('prediction', [e.final_answer === null || e.final_answer === undefined ? '— (no answer)' : e.final_answer, ' ', statusBadge(e)]);
    row('scores', 'EM ' + num(e.em, 0) + ' · F1 ' + num(e.f1, 2) + ' · rubric ' + num(e.rubric_value, 2) +
        (typeof e.reward === 'number' ? ' · reward ' + num(e.reward, 3) : '') + (e.advantage !== undefined && e.advantage !== null ? ' · advantage ' + num(e.advantage, 3) : '') +
        (e.citation_precision !== undefined ? ' · citation P ' + num(e.citation_precision, 2) + ' R ' + num(e.citation_recall, 2) : ''));
    if (e.group_id) row('group', el('span', {cls: 'docid', text: e.group_id}));
    box.appendChild(kv);
    if ((e.task.hops || []).length) {
      box.appendChild(el('h4', {text: 'Gold hops'}));
      box.appendChild(el('ol', {cls: 'hops'}, e.task.hops.map(function (h) {
        return el('li', null, h.question, ' → ', el('strong', {text: h.answer}), ' ',
          (h.support || []).map(function (id) { return el('span', {cls: 'docid', text: '[' + id + '] '}); }));
      })));
    }
    box.appendChild(el('h4', {text: 'Turns'}));
    if (e.missing_turns) box.appendChild(el('p', {cls: 'hint', text: 'This report was written before episodes were kept whole: turns are not recorded.'}));
    else if (!(e.steps || []).length) box.appendChild(el('p', {cls: 'hint', text: 'no turns'}));
    (e.steps || []).forEach(function (s) { box.appendChild(renderTurn(e, docs, s)); });
    var cites = Object.keys(e.citations || {});
    box.appendChild(el('h4', {text: 'Citations'}));
    if (!cites.length) box.appendChild(el('p', {cls: 'hint', text: 'no citations'}));
    else box.appendChild(el('div', {cls: 'chips'}, cites.map(function (id) {
      var v = e.citations[id];
      return el('span', {cls: 'chip c-' + v.verdict, title: v.reason, 'data-verdict': v.verdict},
        id + ': ' + v.verdict + ((e.task.support_ids || []).indexOf(id) >= 0 ? ' (gold)' : ''), el('span', {cls: 'hint', text: ' — ' + v.reason}));
    })));
    box.appendChild(el('h4', {text: 'Rubric (identified → supported → connected)'}));
    if (e.rubric && e.rubric.length) box.appendChild(rubricTable(e));
    else box.appendChild(el('p', {cls: 'hint', text: e.rubric_error ? 'not scored: ' + e.rubric_error : 'no rubric table for this episode'}));
    box.appendChild(el('h4', {text: 'Reward components'}));
    box.appendChild(componentsTable(e.components));
    if ((e.groups || []).length) {
      box.appendChild(el('h4', {text: 'Groups of this episode'}));
      box.appendChild(el('div', {cls: 'chips'}, e.groups.map(function (g) {
        return el('a', {href: '#group-' + encodeURIComponent(g), cls: 'chip c-unknown', text: g,
          on: {click: function (ev) { ev.preventDefault(); var t = document.getElementById('group-' + g); if (t) t.scrollIntoView(); }}});
      })));
    }
  }

  // ---- groups (SLATE branches / GRPO groups), side by side
  function renderGroups() {
    var sec = document.getElementById('groups-section'), box = document.getElementById('groups');
    box.textContent = '';
    var step = currentStep(), samples = step.samples || [];
    sec.hidden = !samples.length;
    if (!samples.length) return;
    var mode = (step.header || {}).mode;
    document.getElementById('groups-title').textContent = mode === 'step' ? 'SLATE branches (k candidates per step)' : 'GRPO groups';
    document.getElementById('groups-hint').textContent = mode === 'step'
      ? 'Each group: the k candidate turns sampled from one shared prefix, their rewards and advantages (z-scores within the group); the outlined one is the continuation.'
      : 'Each group: the episodes of one task, their rewards and group-relative advantages.';
    var order = [], groups = {};
    samples.forEach(function (s) { if (!groups[s.group_id]) { groups[s.group_id] = []; order.push(s.group_id); } groups[s.group_id].push(s); });
    var span = 0;
    samples.forEach(function (s) { if (typeof s.advantage === 'number') span = Math.max(span, Math.abs(s.advantage)); });
    span = span || 1;
    order.forEach(function (gid) {
      var cands = groups[gid];
      var rewards = cands.map(function (c) { return c.reward; }).filter(function (r) { return typeof r === 'number'; });
      var mean = rewards.length ? rewards.reduce(function (a, b) { return a + b; }, 0) / rewards.length : null;
      var g = el('div', {cls: 'group', id: 'group-' + gid, 'data-group': gid},
        el('div', {cls: 'group-head'}, el('span', {cls: 'gid', text: gid}), el('span', {cls: 'hint', text: cands.length + (cands[0].components && cands[0].components.playout === 1
          ? ' paths from this prefix (the candidates, untrained here, and their play-outs, trained)'
          : ' candidates') + ' · mean reward ' + num(mean, 3)})));
      var row = el('div', {cls: 'cands'});
      cands.forEach(function (c, j) {
        var chosen = c.components && c.components.chosen === 1;
        var adv = typeof c.advantage === 'number' ? c.advantage : 0;
        var w = Math.min(50, 50 * Math.abs(adv) / span);
        var bar = el('div', {cls: 'advbar', title: 'advantage ' + num(adv, 3)},
          el('span', {style: 'left:' + (adv >= 0 ? 50 : 50 - w) + '%;width:' + w + '%;background:' + (adv >= 0 ? '#2f8a4f' : '#c0392b')}));
        row.appendChild(el('div', {cls: 'cand' + (chosen ? ' chosen' : ''), 'data-candidate': j},
          el('div', {cls: 'scores'}, el('strong', {text: '#' + j}), chosen ? badge('continued', 'b-chosen') : null,
            c.scored ? null : badge('unscored', 'b-truncated'), c.finished ? null : badge('unfinished', 'b-truncated')),
          el('div', {cls: 'scores'}, el('span', {text: 'reward ' + num(c.reward, 3)}), el('span', {text: 'advantage ' + num(c.advantage, 3)})),
          bar, el('div', {cls: 'text', text: c.text || '(no text recorded)'}),
          el('details', null, el('summary', {text: 'components'}), componentsTable(c.components))));
      });
      g.appendChild(row);
      box.appendChild(g);
    });
  }

  // ---- state <-> URL hash
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ''));
    var next = {filter: 'all', q: '', open: null, step: state.step};
    if (params.has('step')) {
      var want = params.get('step');
      DATA.steps.forEach(function (s, i) { if (String(s.step) === want) next.step = i; });
    }
    var f = params.get('filter');
    if (f && FILTERS.some(function (x) { return x[0] === f; })) next.filter = f;
    if (params.has('q')) next.q = params.get('q');
    state.step = next.step; state.filter = next.filter; state.q = next.q;
    document.getElementById('search').value = state.q;
    if (params.has('open')) {
      var vis = visibleEpisodes(), pos = parseInt(params.get('open'), 10);
      next.open = vis[pos] ? vis[pos][1] : null;
    }
    state.open = next.open;
  }
  function writeHash() {
    var parts = [];
    var s = currentStep();
    if (DATA.kind === 'train' && s.step !== null && s.step !== undefined) parts.push('step=' + s.step);
    if (state.filter !== 'all') parts.push('filter=' + state.filter);
    if (state.q) parts.push('q=' + encodeURIComponent(state.q));
    if (state.open !== null) {
      var pos = visibleEpisodes().map(function (p) { return p[1]; }).indexOf(state.open);
      if (pos >= 0) parts.push('open=' + pos);
    }
    var h = parts.join('&');
    if (location.hash.replace(/^#/, '') !== h) history.replaceState(null, '', h ? '#' + h : location.pathname + location.search);
  }
  function render() {
    renderSteps(); renderFilters(); renderList(); renderDetail(); renderGroups();
    document.body.setAttribute('data-filter', state.filter);
    document.body.setAttribute('data-visible', visibleEpisodes().length);
  }
  function setState(change) {
    Object.keys(change).forEach(function (k) { state[k] = change[k]; });
    writeHash();
    render();
    if (change.open !== undefined && change.open !== null) {
      var d = document.getElementById('detail');
      if (d.getBoundingClientRect().top < 0 || d.getBoundingClientRect().top > window.innerHeight) d.scrollIntoView();
    }
  }

  renderHeader();
  document.getElementById('search').addEventListener('input', function (ev) { setState({q: ev.target.value, open: null}); });
  window.addEventListener('hashchange', function () { readHash(); render(); });
  readHash();
  render();
  document.body.setAttribute('data-ready', '1');
})();
"""


__all__ = [
    "TRAIN_HTML",
    "eval_page_data",
    "render_html",
    "svg_bar_chart",
    "svg_line_chart",
    "train_page_data",
    "write_eval_html",
    "write_train_html",
]

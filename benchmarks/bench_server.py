"""Load-test the retrieval server (``python -m searchgym.search.server``) with BM25 over 100k synthetic passages.

    python benchmarks/bench_server.py            # 1 and 8 clients for 15 s, 64 clients for 60 s, attack 20 s
    python benchmarks/bench_server.py --quick    # 5 s per phase
    python benchmarks/bench_server.py --corpus synthetic:passages=10000 --clients 1,8,64,256

The server runs in its own process, started through its CLI. Each client holds one keep-alive
connection and sends Search-R1 requests (one query, ``topk`` 3, scores) back to back from a pool of
task questions and title+keyword queries. Every answer is checked against the same BM25 index
searched directly in this process (ids and scores must be equal). Per phase it prints throughput
(queries/s), p50/p99 latency, errors (transport failures and non-200 answers), wrong answers, and the
server's RSS before and after. Then the amplification attack: 8 clients send the largest requests the
limits allow (``max_hits`` hits each) mixed with oversized ones (the 282 KB / 2,800-query request of
issue 15, ``topk`` 1000); the server's RSS is sampled every 50 ms and its peak reported, and a
normal query must still be answered correctly afterwards. Exit status 1 on any error or wrong answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wrong: int = 0
    refused: int = 0
    queries: int = 0
    first_problem: str = ""


async def exchange(reader, writer, body: bytes) -> tuple[int, bytes]:
    writer.write(b"POST /retrieve HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    data = await reader.readexactly(int(match.group(1))) if match else b""
    return status, data


async def connect(host: str, port: int):
    reader, writer = await asyncio.open_connection(host, port, limit=2**26)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def client(host: str, port: int, bodies: list[bytes], expected: list[list[tuple[str, float]]], start: int,
                 stop_at: float, phase: Phase) -> None:
    reader, writer = await connect(host, port)
    i = start
    while time.perf_counter() < stop_at:
        i = (i + 1) % len(bodies)
        t0 = time.perf_counter()
        try:
            status, data = await exchange(reader, writer, bodies[i])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            phase.errors += 1
            phase.first_problem = phase.first_problem or f"transport: {type(exc).__name__}: {exc}"
            writer.close()
            reader, writer = await connect(host, port)
            continue
        phase.latencies.append(time.perf_counter() - t0)
        if status != 200:
            phase.errors += 1
            phase.first_problem = phase.first_problem or f"HTTP {status}: {data[:200]!r}"
            continue
        phase.queries += 1
        got = [(item["document"]["id"], item["score"]) for item in json.loads(data)["result"][0]]
        if got != expected[i]:
            phase.wrong += 1
            phase.first_problem = phase.first_problem or f"query {i}: got {got}, want {expected[i]}"
    writer.close()


async def run_phase(host: str, port: int, clients: int, seconds: float, bodies, expected) -> Phase:
    phase = Phase()
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(client(host, port, bodies, expected, random.randrange(len(bodies)), stop_at, phase)
                           for _ in range(clients)))
    return phase


async def attacker(host: str, port: int, bodies: list[bytes], stop_at: float, counts: dict[str, int]) -> None:
    reader, writer = await connect(host, port)
    i = 0
    while time.perf_counter() < stop_at:
        i += 1
        try:
            status, _ = await exchange(reader, writer, bodies[i % len(bodies)])
            counts[str(status)] = counts.get(str(status), 0) + 1
            if status != 200:  # 4xx answers close the connection
                writer.close()
                reader, writer = await connect(host, port)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts["closed"] = counts.get("closed", 0) + 1
            writer.close()
            reader, writer = await connect(host, port)
    writer.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="synthetic:passages=100000")
    ap.add_argument("--searcher", default="bm25")
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--seconds", type=float, default=15.0, help="per phase (the largest client count gets --long)")
    ap.add_argument("--long", type=float, default=60.0, help="seconds for the phase with the most clients")
    ap.add_argument("--attack-seconds", type=float, default=20.0)
    ap.add_argument("--topk", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="5 s per phase")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds = args.long = args.attack_seconds = 5.0
    counts = [int(c) for c in args.clients.split(",")]

    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher
    from searchgym.search.server import ServerLimits

    print(f"corpus {args.corpus}, searcher {args.searcher}, topk {args.topk}, {os.cpu_count()} CPUs", flush=True)
    taskset = load_taskset(args.corpus)
    rng = random.Random(0)
    docs = taskset.documents
    picks = [docs[rng.randrange(len(docs))] for _ in range(1500)]
    queries = [t.question for t in taskset.tasks] + \
              [f"{d.title} {rng.choice(d.text.split())}" for d in picks] + \
              [rng.choice(d.text.split()) + " " + rng.choice(d.text.split()) for d in picks[:500]]
    direct = build_searcher(args.searcher, docs, progress=True)  # builds the shared index once
    t0 = time.perf_counter()
    expected = [[(h.doc_id, h.score) for h in direct.search(q, args.topk)] for q in queries]
    print(f"{len(queries)} queries; direct single-thread search {len(queries) / (time.perf_counter() - t0):.0f} q/s",
          flush=True)
    if hasattr(direct, "close"):
        direct.close()
    bodies = [json.dumps({"queries": [q], "topk": args.topk, "return_scores": True}).encode() for q in queries]

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen([sys.executable, "-m", "searchgym.search.server", "--corpus", args.corpus,
                               "--searcher", args.searcher, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env)
    problems = 0
    try:
        url = None
        for line in server.stdout:
            match = re.search(r"at (http://[\d.]+:\d+)/retrieve", line)
            if match:
                url = match.group(1)
                break
        if url is None:
            raise RuntimeError("the server did not start")
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # drain its log
        host, port = url.removeprefix("http://").split(":")
        port = int(port)
        asyncio.run(run_phase(host, port, 4, 3.0, bodies, expected))  # warm-up: JIT, caches
        print(f"server pid {server.pid} at {url}; RSS after warm-up {rss_mb(server.pid):.0f} MB\n", flush=True)
        print(f"{'clients':>7} {'seconds':>7} {'queries/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'wrong':>6} {'RSS before':>11} {'RSS after':>10}")
        for n in counts:
            seconds = args.long if n == max(counts) else args.seconds
            before = rss_mb(server.pid)
            phase = asyncio.run(run_phase(host, port, n, seconds, bodies, expected))
            after = rss_mb(server.pid)
            print(f"{n:>7} {seconds:>7.0f} {phase.queries / seconds:>10.0f} {pct(phase.latencies, .5) * 1000:>8.2f} "
                  f"{pct(phase.latencies, .99) * 1000:>8.2f} {phase.errors:>7} {phase.wrong:>6} {before:>8.0f} MB "
                  f"{after:>7.0f} MB", flush=True)
            if phase.first_problem:
                print(f"        first problem: {phase.first_problem}")
            problems += phase.errors + phase.wrong

        limits = ServerLimits()
        per = max(1, limits.max_hits // limits.max_topk)
        words = [w for d in picks[:200] for w in d.text.split()]
        allowed = json.dumps({"queries": [" ".join(rng.sample(words, 8)) for _ in range(per)],
                              "topk": limits.max_topk, "return_scores": True}).encode()
        issue15 = json.dumps({"queries": [" ".join(rng.sample(words, 12))[:95] for _ in range(2800)], "topk": 1000,
                              "return_scores": True}).encode()
        too_many_hits = json.dumps({"queries": ["a b c"] * (per + 1), "topk": limits.max_topk}).encode()
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                samples.append(rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        before = rss_mb(server.pid)
        sampler.start()
        statuses: dict[str, int] = {}
        stop_at = time.perf_counter() + args.attack_seconds

        async def attack() -> None:
            mix = [allowed, issue15, too_many_hits, allowed]
            await asyncio.gather(*(attacker(host, port, mix[i % 4:] + mix[:i % 4], stop_at, statuses) for i in range(8)))

        asyncio.run(attack())
        stop.set()
        sampler.join()
        time.sleep(1.0)
        after = rss_mb(server.pid)
        check = asyncio.run(run_phase(host, port, 1, 1.0, bodies, expected))
        print(f"\namplification attack, {args.attack_seconds:.0f} s, 8 clients: allowed requests of {len(allowed) / 1024:.0f} KB "
              f"({per} queries x topk {limits.max_topk}), the issue-15 request ({len(issue15) / 1024:.0f} KB, 2,800 "
              f"queries x topk 1000), one over max_hits")
        print(f"  answers: {dict(sorted(statuses.items()))}")
        quarters = [max(samples[: max(1, len(samples) * q // 4)] or [after]) for q in (1, 2, 3, 4)]
        print(f"  server RSS: before {before:.0f} MB, peak {max(samples or [after]):.0f} MB, after {after:.0f} MB; "
              f"peak by quarter of the attack: {', '.join(f'{r:.0f}' for r in quarters)} MB")
        print(f"  afterwards: {check.queries} normal queries, {check.errors} errors, {check.wrong} wrong")
        problems += check.errors + check.wrong + (check.queries == 0)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

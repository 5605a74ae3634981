"""Start a real, throwaway Neo4j 5 Community server for integration tests.

Stdlib only. The server is the small embedded-Neo4j program in
``tests/neo4j-server`` (built once with Maven, cached by a hash of its pom
and sources) and is run as a ``java`` subprocess with Bolt on 127.0.0.1.

Typical use from a test or fixture::

    from tests.neo4j_harness import Neo4jServer, build_server, java_available

    ok, why = java_available()
    if not ok:
        pytest.skip(why)
    with Neo4jServer(tmp_path / "neo4j", password="secret") as server:
        driver = neo4j.AsyncGraphDatabase.driver(server.uri, auth=server.auth)
        ...
        server.restart()          # same data dir, same port: clients reconnect

``Neo4jServer.start`` builds the server project on first use. Environment
overrides: ``NEO4J_TEST_JAVA`` (java binary), ``NEO4J_TEST_MVN`` (mvn
binary), ``NEO4J_TEST_HEAP`` (e.g. ``768m``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Deque, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "Neo4jHarnessError",
    "Neo4jServer",
    "SERVER_PROJECT_DIR",
    "build_server",
    "find_java",
    "find_maven",
    "java_available",
]

SERVER_PROJECT_DIR = Path(__file__).resolve().parent / "neo4j-server"
JAR_NAME = "neo4j-test-server.jar"
READY_PREFIX = "NEO4J_READY "
DEFAULT_USER = "neo4j"
DEFAULT_PASSWORD = "testpassword"
MIN_JAVA = 17

# JVM tuned for a 2-core test machine: C1 only and the serial collector roughly
# halve start-up time versus the defaults (C2 and G1 threads compete for the
# same two cores); the opens are the ones Neo4j's own launcher passes (they are
# also in the jar manifest, repeated here for safety).
_BASE_JVM_ARGS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
)

PathLike = Union[str, "os.PathLike[str]"]
_UNSET = object()


class Neo4jHarnessError(RuntimeError):
    """The server could not be built, started or stopped; message has the log tail."""


# --------------------------------------------------------------------------- java / maven


def find_java() -> Optional[str]:
    """The java binary to use: $NEO4J_TEST_JAVA, then $JAVA_HOME/bin/java, then PATH."""
    env = os.environ.get("NEO4J_TEST_JAVA")
    if env:
        return env if _is_exe(env) else None
    home = os.environ.get("JAVA_HOME")
    if home and _is_exe(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def find_maven() -> Optional[str]:
    env = os.environ.get("NEO4J_TEST_MVN")
    if env:
        return env if _is_exe(env) else None
    return shutil.which("mvn")


def _is_exe(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


@functools.lru_cache(maxsize=None)
def _java_major(java: str) -> int:
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60
    )
    text = out.stderr + out.stdout
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        raise Neo4jHarnessError(f"cannot parse `{java} -version` output: {text.strip()!r}")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_x" style
        major = int(m.group(2))
    return major


def java_available(project_dir: PathLike = SERVER_PROJECT_DIR) -> Tuple[bool, str]:
    """Whether a Neo4j test server can be run here; the reason when it cannot.

    Needs Java 17+ and either Maven or an already built server.
    """
    java = find_java()
    if not java:
        return False, "no java found (set NEO4J_TEST_JAVA or JAVA_HOME, or put java on PATH)"
    try:
        major = _java_major(java)
    except (OSError, subprocess.SubprocessError, Neo4jHarnessError) as exc:
        return False, f"java at {java} does not run: {exc}"
    if major < MIN_JAVA:
        return False, f"java at {java} is version {major}; Neo4j 5 needs {MIN_JAVA}+"
    project = Path(project_dir)
    if not (project / "pom.xml").is_file():
        return False, f"server project not found at {project}"
    if not _is_built(project) and not find_maven():
        return False, "Neo4j test server is not built and no mvn found (set NEO4J_TEST_MVN)"
    return True, f"java {major} at {java}"


# --------------------------------------------------------------------------- build


def _source_hash(project: Path) -> str:
    """Hash of everything that changes the build output: the pom and the sources."""
    h = hashlib.sha256()
    files = [project / "pom.xml"] + sorted((project / "src").rglob("*"))
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(project)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def _stamp_path(project: Path) -> Path:
    return project / "target" / ".harness-build-hash"


def _is_built(project: Path) -> bool:
    jar = project / "target" / JAR_NAME
    stamp = _stamp_path(project)
    if not (jar.is_file() and (project / "target" / "lib").is_dir() and stamp.is_file()):
        return False
    return stamp.read_text().strip() == _source_hash(project)


@contextlib.contextmanager
def _build_lock(project: Path):
    """Serialise builds across processes (pytest-xdist workers all call build_server)."""
    (project / "target").mkdir(parents=True, exist_ok=True)
    lock_path = project / "target" / ".harness-build.lock"
    with open(lock_path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_server(
    project_dir: PathLike = SERVER_PROJECT_DIR, *, force: bool = False, timeout: float = 900
) -> Path:
    """Build the server project with Maven unless it is already built from the same
    pom and sources; returns the runnable jar (``target/neo4j-test-server.jar``).

    Tries an offline build first (fast, works with a warm ~/.m2 and no network),
    then a normal one that may download from Maven's configured repositories.
    """
    project = Path(project_dir).resolve()
    jar = project / "target" / JAR_NAME
    if not (project / "pom.xml").is_file():
        raise Neo4jHarnessError(f"no pom.xml in {project}")
    with _build_lock(project):
        if not force and _is_built(project):
            return jar
        mvn = find_maven()
        if not mvn:
            raise Neo4jHarnessError("mvn not found; cannot build the Neo4j test server")
        digest = _source_hash(project)
        _stamp_path(project).unlink(missing_ok=True)
        env = dict(os.environ)
        java = find_java()
        jdk = Path(os.path.realpath(java)).parent.parent if java else None
        if jdk is not None and (jdk / "bin" / "javac").is_file():
            # Compile with the JDK the server will run on, not whatever mvn finds.
            env["JAVA_HOME"] = str(jdk)
        attempts: List[Tuple[List[str], subprocess.CompletedProcess]] = []
        for offline in (True, False):
            cmd = [mvn, "-q", "-B"] + (["-o"] if offline else []) + ["package"]
            try:
                proc = subprocess.run(
                    cmd, cwd=project, env=env, capture_output=True, text=True,
                    timeout=timeout, stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as exc:
                out = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
                raise Neo4jHarnessError(
                    f"`{' '.join(cmd)}` timed out after {timeout}s in {project}\n"
                    + _tail(out.splitlines(), 60)
                ) from exc
            attempts.append((cmd, proc))
            if proc.returncode == 0 and jar.is_file():
                _stamp_path(project).write_text(digest + "\n")
                return jar
        cmd, proc = attempts[-1]
        lines = (proc.stdout + "\n" + proc.stderr).splitlines()
        raise Neo4jHarnessError(
            f"Maven build of the Neo4j test server failed (exit {proc.returncode}) "
            f"in {project}: `{' '.join(cmd)}`\n--- maven output (tail) ---\n"
            + _tail(lines, 60)
        )


def _tail(lines: Iterable[str], n: int) -> str:
    return "\n".join(list(lines)[-n:])


# --------------------------------------------------------------------------- server


class Neo4jServer:
    """A Neo4j server subprocess bound to 127.0.0.1, usable as a context manager.

    ``data_dir`` is the Neo4j home (data/ and logs/ go inside); when omitted a
    temporary directory is created and removed by :meth:`close` / ``__exit__``.
    ``port=0`` picks a free port on first start; restarts reuse that port.
    """

    def __init__(
        self,
        data_dir: Optional[PathLike] = None,
        port: int = 0,
        password: Optional[str] = DEFAULT_PASSWORD,
        *,
        project_dir: PathLike = SERVER_PROJECT_DIR,
        heap: Optional[str] = None,
        pagecache_mb: int = 64,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
        jvm_args: Sequence[str] = (),
    ) -> None:
        self.project_dir = Path(project_dir)
        self.data_dir: Optional[Path] = Path(data_dir) if data_dir is not None else None
        self.port = int(port)
        self.password = password  # None => auth disabled
        self.user = DEFAULT_USER
        self.heap = heap or os.environ.get("NEO4J_TEST_HEAP", "768m")
        self.pagecache_mb = pagecache_mb
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.jvm_args = list(jvm_args)
        self.uri: Optional[str] = None
        self.last_start_seconds: Optional[float] = None
        self.last_stop_seconds: Optional[float] = None
        self._owns_data_dir = False
        self._proc: Optional[subprocess.Popen] = None
        self._log_fh = None
        self._stdout_lines: Deque[str] = deque(maxlen=200)
        self._ready = threading.Event()
        self._reader: Optional[threading.Thread] = None

    # -- properties ---------------------------------------------------------

    @property
    def auth(self) -> Optional[Tuple[str, str]]:
        """``(user, password)`` for the driver, or None when auth is disabled."""
        return None if self.password is None else (self.user, self.password)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Optional[Path]:
        """The server's console log (stderr): Neo4j's user log plus our own lines."""
        return self.data_dir / "server-console.log" if self.data_dir else None

    def log_tail(self, n: int = 60) -> str:
        path = self.log_path
        if not path or not path.is_file():
            return "(no log)"
        with open(path, "r", errors="replace") as fh:
            return _tail(fh.read().splitlines(), n)

    # -- lifecycle ----------------------------------------------------------

    def start(
        self,
        data_dir: Optional[PathLike] = None,
        port: Optional[int] = None,
        password: object = _UNSET,
    ) -> "Neo4jServer":
        """Start the server and block until Bolt accepts connections.

        Arguments override the constructor's; ``password=None`` disables auth.
        Raises :class:`Neo4jHarnessError` (with the log tail) on failure or timeout.
        """
        if self.is_running:
            raise Neo4jHarnessError(f"server already running at {self.uri}")
        if self._proc is not None:  # it died on its own (or was killed): forget it
            self._cleanup_process()
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        if port is not None:
            self.port = int(port)
        if password is not _UNSET:
            self.password = password  # type: ignore[assignment]
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="neo4j-test-"))
            self._owns_data_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)

        ok, why = java_available(self.project_dir)
        if not ok:
            raise Neo4jHarnessError(why)
        jar = build_server(self.project_dir)
        java = find_java()
        assert java is not None

        cmd = [java, f"-Xmx{self.heap}", "-Xms128m", *_BASE_JVM_ARGS, *self.jvm_args,
               "-jar", str(jar),
               "--home", str(self.data_dir.resolve()),
               "--host", self.host,
               "--port", str(self.port),
               "--pagecache-mb", str(self.pagecache_mb),
               "--watch-stdin"]
        if self.password is None:
            cmd.append("--no-auth")
        else:
            cmd += ["--password", self.password]

        self._ready.clear()
        self.uri = None
        self._stdout_lines.clear()
        assert self.log_path is not None
        self._log_fh = open(self.log_path, "ab")
        self._log_fh.write(f"\n=== harness: starting {time.ctime()} ===\n".encode())
        self._log_fh.flush()
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # held open: EOF tells the server we went away
            stdout=subprocess.PIPE,
            stderr=self._log_fh,
            cwd=str(self.data_dir),
            # Own session: a Ctrl-C aimed at pytest must not kill the server behind
            # the harness's back; the harness stops it itself.
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_stdout, args=(self._proc,), name="neo4j-harness-stdout", daemon=True
        )
        self._reader.start()

        deadline = t0 + self.startup_timeout
        while not self._ready.wait(0.1):
            if self._proc.poll() is not None:
                self._reader.join(2)
                code = self._proc.returncode
                self._cleanup_process()
                raise Neo4jHarnessError(
                    f"Neo4j test server exited with code {code} before it was ready\n"
                    f"--- {self.log_path} (tail) ---\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self._terminate(kill_after=5)
                raise Neo4jHarnessError(
                    f"Neo4j test server not ready after {self.startup_timeout:.0f}s\n"
                    f"--- {self.log_path} (tail) ---\n{self.log_tail()}"
                )
        self.last_start_seconds = time.monotonic() - t0
        return self

    def _read_stdout(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._stdout_lines.append(line)
            if line.startswith(READY_PREFIX) and not self._ready.is_set():
                self.uri = line[len(READY_PREFIX):].strip()
                m = re.search(r":(\d+)$", self.uri)
                if m:
                    self.port = int(m.group(1))  # pin a picked port for restarts
                self._ready.set()
            elif self._log_fh is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._log_fh.write(b"[stdout] " + raw)
                    self._log_fh.flush()

    def stop(self, timeout: Optional[float] = None) -> None:
        """SIGTERM (clean shutdown and checkpoint), wait, then SIGKILL if needed."""
        if self._proc is None:
            return
        t0 = time.monotonic()
        self._terminate(kill_after=self.stop_timeout if timeout is None else timeout)
        self.last_stop_seconds = time.monotonic() - t0

    def kill(self) -> None:
        """SIGKILL, as a crash: the next start runs Neo4j's recovery."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._cleanup_process()

    def restart(self, timeout: Optional[float] = None) -> "Neo4jServer":
        """Stop and start again on the same data directory, port and password."""
        self.stop(timeout)
        return self.start()

    def close(self) -> None:
        """Stop, and remove the data directory if the harness created it."""
        self.stop()
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._owns_data_dir = False

    def _terminate(self, kill_after: float) -> None:
        proc = self._proc
        assert proc is not None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self._cleanup_process()

    def _cleanup_process(self) -> None:
        proc = self._proc
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None
        if self._log_fh is not None:
            with contextlib.suppress(OSError):
                self._log_fh.close()
            self._log_fh = None
        self._proc = None

    # -- context manager ----------------------------------------------------

    def __enter__(self) -> "Neo4jServer":
        if not self.is_running:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<Neo4jServer {state} uri={self.uri!r} data_dir={str(self.data_dir)!r}>"


if __name__ == "__main__":  # manual smoke run: python tests/neo4j_harness.py [DATA_DIR]
    target = sys.argv[1] if len(sys.argv) > 1 else None
    with Neo4jServer(target) as srv:
        print(f"{srv.uri} user={srv.user} password={srv.password} "
              f"(ready in {srv.last_start_seconds:.1f}s); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while srv.is_running:
                time.sleep(1)

"""Start real, throwaway Qdrant servers (one node, or a cluster on loopback) for tests.

Stdlib only, like ``tests/neo4j_harness.py``. The binary is ``$HOLOLOOM_TEST_QDRANT_BIN``,
else ``../shared/bin/qdrant`` beside the checkout, else ``qdrant`` on ``PATH``. Every
node binds 127.0.0.1 on free ports and keeps its storage in its own temporary directory.

Typical use::

    with QdrantServer() as server:                 # one node
        client = AsyncQdrantClient(url=server.url, check_compatibility=False)

    with QdrantCluster(3) as cluster:              # three peers, consensus over p2p
        url = cluster.nodes[0].url
        cluster.nodes[2].stop()                    # a node goes away; replicas serve

Run by hand: ``python tests/qdrant_harness.py [--cluster 3]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["QdrantCluster", "QdrantHarnessError", "QdrantServer", "find_qdrant"]

_REPO = Path(__file__).resolve().parents[1]


class QdrantHarnessError(RuntimeError):
    """A server could not be found, started or joined; the message has the log tail."""


def find_qdrant() -> str | None:
    """The qdrant binary to run, or None."""
    for candidate in (os.environ.get("HOLOLOOM_TEST_QDRANT_BIN"), str(_REPO.parent / "shared" / "bin" / "qdrant"),
                      "/work/shared/bin/qdrant", shutil.which("qdrant")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be sent SIGTERM when the test process dies, so a
    killed pytest (a timeout, CI cancelling) leaves no server behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
        return json.loads(response.read().decode("utf-8"))


class QdrantServer:
    """One Qdrant process on loopback; a cluster peer when ``p2p_port`` is given."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, p2p_port: int | None = None,
                 bootstrap: str | None = None, startup_timeout: float = 60.0) -> None:
        binary = find_qdrant()
        if binary is None:
            raise QdrantHarnessError("no qdrant binary: set HOLOLOOM_TEST_QDRANT_BIN or put it at ../shared/bin/qdrant")
        self.binary = binary
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="qdrant-test-"))
        self.http_port = _free_port()
        self.grpc_port = _free_port()
        self.p2p_port = p2p_port
        self.bootstrap = bootstrap
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def p2p_uri(self) -> str:
        return f"http://127.0.0.1:{self.p2p_port}"

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    def _env(self) -> dict[str, str]:
        env = {**os.environ,
               "QDRANT__SERVICE__HOST": "127.0.0.1",
               "QDRANT__SERVICE__HTTP_PORT": str(self.http_port),
               "QDRANT__SERVICE__GRPC_PORT": str(self.grpc_port),
               "QDRANT__STORAGE__STORAGE_PATH": str(self.data_dir / "storage"),
               "QDRANT__STORAGE__SNAPSHOTS_PATH": str(self.data_dir / "snapshots"),
               "QDRANT__TELEMETRY_DISABLED": "true",
               "QDRANT__LOG_LEVEL": "WARN"}
        if self.p2p_port is not None:
            env |= {"QDRANT__CLUSTER__ENABLED": "true", "QDRANT__CLUSTER__P2P__PORT": str(self.p2p_port),
                    # Loopback peers answer fast: short timeouts make a stopped peer noticed in seconds.
                    "QDRANT__CLUSTER__CONSENSUS__TICK_PERIOD_MS": "50"}
        return env

    def start(self) -> "QdrantServer":
        """Start and block until the node answers ``/readyz``."""
        if self.is_running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [self.binary]
        if self.p2p_port is not None:
            args += ["--uri", self.p2p_uri] + (["--bootstrap", self.bootstrap] if self.bootstrap else [])
        self._log = open(self.data_dir / "server.log", "ab")
        self._proc = subprocess.Popen(args, cwd=self.data_dir, env=self._env(), stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise QdrantHarnessError(f"qdrant exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                urllib.request.urlopen(f"{self.url}/readyz", timeout=1).close()  # noqa: S310
                return self
            time.sleep(0.1)
        self.stop()
        raise QdrantHarnessError(f"qdrant not ready after {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.stop()

    def close(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "QdrantServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class QdrantCluster:
    """``size`` peers on loopback: the first bootstraps consensus, the others join it."""

    def __init__(self, size: int = 3, *, startup_timeout: float = 90.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qdrant-cluster-"))
        first = QdrantServer(self.root / "node0", p2p_port=_free_port())
        self.nodes = [first] + [QdrantServer(self.root / f"node{i}", p2p_port=_free_port(), bootstrap=first.p2p_uri)
                                for i in range(1, size)]
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> "QdrantCluster":
        try:
            self.nodes[0].start()
            for node in self.nodes[1:]:
                node.start()
            self.wait_for_peers(len(self.nodes))
        except BaseException:
            self.close()
            raise
        return self

    def wait_for_peers(self, count: int) -> None:
        """Block until the first node's consensus knows ``count`` peers and has a leader."""
        deadline = time.monotonic() + self.startup_timeout
        seen: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                seen = _get_json(f"{self.url}/cluster")["result"]
                if len(seen["peers"]) >= count and seen["raft_info"].get("leader"):
                    return
            time.sleep(0.2)
        raise QdrantHarnessError(f"cluster did not form ({seen}):\n{self.nodes[-1].log_tail()}")

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "QdrantCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":  # manual run: python tests/qdrant_harness.py [--cluster N]
    size = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--cluster" else 0
    target = QdrantCluster(size) if size else QdrantServer()
    with target as running:
        print(f"{running.url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)

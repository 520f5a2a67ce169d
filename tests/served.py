"""Run ``qa serve`` in a child process on a free loopback port, for tests of the running server."""

from __future__ import annotations

import atexit
import ctypes
import threading
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import uvicorn

REPO = Path(__file__).resolve().parent.parent
QUIET_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:  # looked up here, not in the forked child
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies, so no server outlives a crashed test run."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """A ``qa serve`` child process: its URL (no trailing slash), pid and log file."""

    process: subprocess.Popen
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


def get(url: str, timeout: float = 10.0) -> tuple[int, dict | str]:
    """GET ``url``: (status, JSON body or text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    text = body.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def start(corpus: Path, log: Path, extra_env: dict[str, str] | None = None, timeout: float = 180.0,
          args: tuple[str, ...] = ()) -> Server:
    """Start ``python -m qa serve`` on a free port and wait until it answers (``/api/health`` ok, or ``/``).

    Raises:
        RuntimeError: The server exited or did not answer within ``timeout`` seconds (its log tail included).
    """
    return ready(launch(corpus, log, extra_env, args), timeout)


def launch(corpus: Path, log: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Server:
    """Start ``python -m qa serve`` on a free port without waiting (several can then load at once)."""
    port = free_port()
    env = {**os.environ, **QUIET_ENV, "QA_CORPUS": str(corpus), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    handle.close()
    return Server(process, f"http://127.0.0.1:{port}", log)


def ready(server: Server, timeout: float = 180.0) -> Server:
    """Wait until a launched server answers.

    Raises:
        RuntimeError: The server exited or did not answer within ``timeout`` seconds (its log tail included).
    """
    process = server.process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with {process.returncode}:\n{server.log_tail()}")
        try:
            status, body = get(f"{server.url}/api/health", timeout=2)
            if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                return server
            if status == 404 and get(f"{server.url}/", timeout=2)[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"qa serve did not answer within {timeout} s:\n{server.log_tail()}")


_shared: Server | None = None


def shared(corpus: Path, log: Path) -> Server:
    """One server per test process, started on first use and stopped when the process exits."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = start(corpus, log)
        atexit.register(_shared.stop)
    return _shared


class BackgroundServer:
    """A uvicorn server on a thread, for tests and notebooks: ``with BackgroundServer(app) as url: …``.

    Args:
        app: The ASGI app to serve.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        timeout: Seconds to wait for the server to start.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, timeout: float = 60) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        # Gradio's heartbeat streams (a browser tab, gradio_client) would hold up a graceful shutdown for ~15 s.
        self.config.timeout_graceful_shutdown = 1
        self.server = uvicorn.Server(self.config)
        self.timeout = timeout
        self.thread = threading.Thread(target=self.server.run, name="qa-web", daemon=True)
        self.url = ""

    def start(self) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT/``)."""
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The web server did not start within {self.timeout} s; see the log above.")
            time.sleep(0.05)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/"
        return self.url

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self.server.should_exit = True
        self.thread.join(self.timeout)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Milvus Lite for tests: a local gRPC server on a free loopback port, started and stopped by the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from served import die_with_parent, free_port

__all__ = ["MilvusLite", "free_port"]


@dataclass
class MilvusLite:
    """One ``milvus-lite server`` process on 127.0.0.1."""

    data: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"milvus://127.0.0.1:{self.port}"

    def collection(self) -> str:
        """A store URI with a collection of its own (one per test)."""
        return f"{self.uri}?collection=t_{uuid.uuid4().hex[:12]}&timeout=5"

    def start(self, wait: float = 60.0) -> MilvusLite:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data), "--host", "127.0.0.1",
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
                preexec_fn=die_with_parent)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"milvus-lite server did not listen within {wait} s")

    def stop(self) -> None:
        """A graceful stop (SIGINT), then a kill if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

"""Offline: ``qa serve`` answers inside a network namespace that has only loopback, and opens no other connection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import served
from qa.corpus.folder import MANIFEST

SPEECH_ID = "speech-2020-11-24"

# Runs inside the namespace: bring loopback up, start the server with an audit hook that logs every socket
# address it connects to or looks up, ask it over loopback, stop it, print what happened as JSON.
DRIVER = r"""
import fcntl, json, os, socket, struct, subprocess, sys, time, urllib.parse, urllib.request

repo, corpus, log, audit, port, boot = sys.argv[1:7]
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH14x", fcntl.ioctl(probe, 0x8913, struct.pack("16sH14x", b"lo", 0)))[1]  # SIOCGIFFLAGS
fcntl.ioctl(probe, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS: IFF_UP
try:
    socket.create_connection(("192.0.2.1", 80), timeout=3).close()  # TEST-NET-1: must be unreachable here
    outside = "reachable"
except OSError as exc:
    outside = type(exc).__name__ + ": " + str(exc)

env = dict(os.environ, QA_CORPUS=corpus, PYTHONUNBUFFERED="1")
with open(log, "wb") as out:
    server = subprocess.Popen([sys.executable, boot, audit, "serve", "--host", "127.0.0.1", "--port", port],
                              cwd=repo, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
result = {"outside": outside, "answers": [], "page": None}
try:
    deadline = time.monotonic() + 150
    while server.poll() is None:
        assert time.monotonic() < deadline, "the server did not start"
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                if json.load(r).get("status") == "ok":
                    break
        except OSError:
            time.sleep(0.25)
    for q in ("工匠精神是什么？", "What is the spirit of craftsmanship?", "明天北京会下雨吗？"):
        with urllib.request.urlopen(base + "/api/ask?q=" + urllib.parse.quote(q), timeout=30) as r:
            result["answers"].append(json.load(r))
    with urllib.request.urlopen(base + "/", timeout=30) as r:
        result["page"] = r.status
finally:
    result["exit"] = server.poll()
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
print(json.dumps(result, ensure_ascii=False))
"""

# The server's entry point: ``qa`` with an audit hook that logs every address a socket connects or sends to and
# every name looked up (PEP 578 events, raised by the socket module itself whatever library calls it).
BOOT = """
import json, sys
log = open(sys.argv.pop(1), "a", buffering=1)
ADDRESS = {"socket.bind": 1, "socket.connect": 1, "socket.sendto": 1, "socket.sendmsg": 1, "socket.getaddrinfo": 0,
           "socket.gethostbyname": 0, "socket.gethostbyaddr": 0, "http.client.connect": 1}
def hook(event, args):
    if event in ADDRESS:
        log.write(json.dumps({"event": event, "address": repr(args[ADDRESS[event]])}) + "\\n")
sys.addaudithook(hook)
sys.argv[0] = "qa"
from qa.cli import main
main()
"""


def _namespace() -> list[str]:
    """The unshare command that gives a child its own empty network namespace, or skip saying why not."""
    if not shutil.which("unshare"):
        pytest.skip("unshare(1) (util-linux) is not installed")
    tried = []
    for command in (["unshare", "-n"], ["unshare", "-r", "-n"]):  # as root; else in a user namespace
        probe = subprocess.run([*command, "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return command
        tried.append(f"{' '.join(command)}: {probe.stderr.strip()}")
    pytest.skip("no network namespace can be made here (" + "; ".join(tried) + ")")


def test_serve_answers_with_no_network_and_connects_nowhere_else(assistant, corpus_dir, tmp_path):
    unshare = _namespace()
    assistant.index  # noqa: B018  (built and current: the server only loads it)
    manifest = (corpus_dir / MANIFEST).read_bytes()
    audit = tmp_path / "audit.jsonl"
    log = tmp_path / "serve.log"
    boot = tmp_path / "boot.py"
    boot.write_text(BOOT, encoding="utf-8")
    run = subprocess.run(
        [*unshare, sys.executable, "-c", DRIVER, str(served.REPO), str(corpus_dir), str(log), str(audit), "7860",
         str(boot)],
        capture_output=True, text=True, timeout=240, env={**os.environ, **served.QUIET_ENV},
    )
    assert run.returncode == 0, run.stderr[-2000:] + log.read_text(errors="replace")[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outside"].startswith("OSError") or "unreachable" in result["outside"], result["outside"]
    assert result["exit"] is None, "the server stopped early:\n" + log.read_text(errors="replace")[-2000:]
    craft, english, weather = result["answers"]
    for answer in (craft, english):
        assert answer["answered"], answer
        assert answer["citations"][0]["document"]["id"] == SPEECH_ID
        assert answer["citations"][0]["paragraph"] == 10
    assert not weather["answered"] and not weather["citations"]
    assert "Embedding" not in log.read_text(errors="replace"), "the server loaded the corpus, it did not rebuild it"
    assert (corpus_dir / MANIFEST).read_bytes() == manifest
    assert result["page"] == 200
    events = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    assert {"event": "socket.bind", "address": "('127.0.0.1', 7860)"} in events  # the hook saw the server listen
    local = ("'127.0.0.1'", "('127.0.0.1'", "'localhost'", "('localhost'", "('::1'", "'::1'")
    elsewhere = [e for e in events if not e["address"].startswith(local) and not e["address"].startswith("'/")]
    assert not elsewhere, f"the server tried to reach: {elsewhere}"

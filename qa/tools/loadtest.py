"""A bounded load test of the JSON API: concurrent clients on loopback that stop by themselves."""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import socket
import threading
import time
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from qa.errors import InputError

# Questions the speech answers (Chinese paraphrases and keywords, English), questions it does not address, and a
# few the API must refuse with a 4xx. Each client walks the list from its own starting point.
DEFAULT_QUESTIONS: tuple[str, ...] = (
    "工匠精神是什么？",
    "快递员、网约工的权益怎么保障？",
    "“十四五”从哪一年开始？",
    "劳动者为什么要终身学习？",
    "劳模精神的内涵是什么？",
    "怎样提高产业工人的素质？",
    "工会应该发挥什么作用？",
    "抗疫精神包括哪些内容？",
    "共同富裕",
    "劳动教育",
    "职工代表大会",
    "厂务公开",
    "工匠精神是什麼？",
    "ｗｈａｔ ｉｓ ｔｈｅ ｓｐｉｒｉｔ ｏｆ ｃｒａｆｔｓｍａｎｓｈｉｐ？",
    "What is the spirit of craftsmanship?",
    "What does the speech say about labour education in schools?",
    "How should the rights of delivery workers be protected?",
    "When did China first honour model workers?",
    "明天北京会下雨吗？",
    "红烧肉怎么做？",
    "2022 年世界杯冠军是哪支球队？",
    "How do I apply for a Chinese tourist visa?",
    "<script>alert(1)</script>工匠精神",
    "{{7*7}} 劳模精神",
    "",  # refused: empty
    "？？？！！！",  # refused: no words
    "😀🎉👍",  # refused: no words
    "劳" * 600,  # refused: too long
)

_STATUS_KEYS = ("question", "answered", "answer", "confidence", "citations")
MAX_CLIENTS = 500  # one thread each


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def expected_invalid(question: str) -> bool:
    """Whether the server should refuse ``question`` with a 4xx, judged by the library's own check."""
    from qa.analysis import clean_question
    from qa.config import Settings

    try:
        clean_question(question, Settings.from_env().max_question_chars)
    except InputError:
        return True
    return False


def rss_kb(pid: int) -> int | None:
    """The resident set size of process ``pid`` in kB, or None if it cannot be read."""
    import psutil

    try:
        return psutil.Process(pid).memory_info().rss // 1024
    except (psutil.Error, OSError):
        return None


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` on this machine, or None (not found, or not ours to see)."""
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    return next((c.pid for c in connections if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                 and c.pid), None)


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list, or None when it is empty."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), math.ceil(round(share * len(ordered), 9))))
    return ordered[rank - 1]


def _well_formed(data: object) -> bool:
    """An answer JSON with every field, and every quote equal to its paragraph's text[start:end]."""
    if not isinstance(data, dict) or any(key not in data for key in _STATUS_KEYS):
        return False
    citations = data["citations"]
    if not isinstance(citations, list) or (data["answered"] and not citations):
        return False
    return all(isinstance(c, dict) and c.get("text", "")[c.get("start", 0) : c.get("end", -1)] == c.get("quote")
               for c in citations)


class _Tally:
    """Counters and latencies shared by the client threads."""

    def __init__(self, limit: int, deadline: float) -> None:
        self.lock = threading.Lock()
        self.limit, self.deadline = limit, deadline
        self.sent = 0
        self.counts = {"ok": 0, "answered": 0, "refused": 0, "expected_4xx": 0, "errors": 0, "dropped": 0,
                       "timeouts": 0}
        self.latencies: list[float] = []
        self.examples: list[str] = []

    def ticket(self) -> int | None:
        """The number of the next request to send, or None once the time or request limit is reached."""
        with self.lock:
            if self.sent >= self.limit or time.monotonic() >= self.deadline:
                return None
            self.sent += 1
            return self.sent - 1

    def record(self, outcome: str, latency: float | None = None, detail: str = "", answered: bool | None = None):
        with self.lock:
            self.counts[outcome] += 1
            if latency is not None:
                self.latencies.append(latency)
            if answered is not None:
                self.counts["answered" if answered else "refused"] += 1
            if detail and len(self.examples) < 10:
                self.examples.append(detail)


def _client(host: str, port: int, prefix: str, timeout: float, plan: list[tuple[str, bool]], offset: int,
            tally: _Tally) -> None:
    """One client: a keep-alive connection asking the planned questions in turn until the tally says stop."""
    conn: http.client.HTTPConnection | None = None
    step = 0
    while (ticket := tally.ticket()) is not None:
        question, invalid = plan[(offset + step) % len(plan)]
        step += 1
        path = f"{prefix}/api/ask?q={quote(question, safe='')}"
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Accept": "application/json", "Connection": "keep-alive"})
            response = conn.getresponse()
            body = response.read()
        except TimeoutError:
            tally.record("timeouts", detail=f"#{ticket} no reply within {timeout} s: {question[:30]!r}")
            conn.close()
            conn = None
            continue
        except (OSError, http.client.HTTPException) as exc:
            tally.record("dropped", detail=f"#{ticket} {type(exc).__name__}: {exc} ({question[:30]!r})")
            conn.close()
            conn = None
            continue
        latency = time.perf_counter() - started
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        status = response.status
        if invalid and 400 <= status < 500 and isinstance(data, dict) and {"error", "code"} <= set(data):
            tally.record("expected_4xx", latency)
        elif not invalid and status == 200 and _well_formed(data):
            tally.record("ok", latency, answered=bool(data["answered"]))
        else:
            tally.record("errors", latency, f"#{ticket} HTTP {status} for {question[:30]!r}: {body[:120]!r}")
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def run(
    url: str,
    clients: int = 20,
    duration: float = 60.0,
    max_requests: int = 20000,
    timeout: float = 10.0,
    questions: Sequence[str] | None = None,
    pid: int | None = None,
) -> dict:
    """Ask the JSON API ``GET {url}/api/ask`` from concurrent clients until a time or request limit.

    Each client keeps one connection and walks the questions from its own starting point. A question the
    library itself refuses (empty, no words, too long) must get a 4xx JSON error and counts as
    ``expected_4xx``; any other must get a well-formed answer (``quote == text[start:end]``). The run ends by
    itself after ``duration`` seconds or ``max_requests`` requests, whichever comes first; a request still
    in flight then has at most ``timeout`` seconds more.

    Args:
        url: The server's base URL, on this machine only (``http://127.0.0.1:7860``).
        clients: How many clients ask at the same time.
        duration: Seconds to keep asking.
        max_requests: Requests to send at most, over all clients.
        timeout: Seconds a client waits for one reply before counting it as a timeout.
        questions: What to ask; :data:`DEFAULT_QUESTIONS` by default.
        pid: The server's process id, to report its memory; found from the port when None (Linux, same user).

    Returns:
        ``requests``, ``seconds``, ``throughput`` (replies per second), ``ok``, ``answered``, ``refused``,
        ``expected_4xx``, ``errors``, ``dropped`` (connection failures), ``timeouts``, latency percentiles
        ``p50_ms``/``p95_ms``/``p99_ms``/``max_ms``, ``rss_start_mb``/``rss_end_mb``/``rss_max_mb``
        (None without a pid), and up to ten ``problems`` described.

    Raises:
        InputError: The URL is not http on a loopback address, a limit is not positive, or clients is over
            :data:`MAX_CLIENTS`.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise InputError(f"The URL {url!r} must look like http://127.0.0.1:7860.")
    if not is_loopback(parts.hostname):
        raise InputError(f"The load test only runs against this machine (127.0.0.1, localhost), not {parts.hostname}.")
    for name, value in (("clients", clients), ("duration", duration), ("max_requests", max_requests),
                        ("timeout", timeout)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{name} must be a positive number, not {value!r}.")
    if clients > MAX_CLIENTS:
        raise InputError(f"clients must be at most {MAX_CLIENTS}, not {clients}.")
    asked = list(DEFAULT_QUESTIONS if questions is None else questions)
    if not asked or not all(isinstance(q, str) for q in asked):
        raise InputError("questions must be a non-empty list of strings.")
    plan = [(q, expected_invalid(q)) for q in asked]
    pid = pid if pid is not None else listening_pid(port)

    rss = [kb for kb in [rss_kb(pid)] if kb is not None] if pid else []
    rss_start = rss[0] if rss else None
    started = time.monotonic()
    tally = _Tally(int(max_requests), started + float(duration))
    threads = [
        threading.Thread(target=_client, name=f"load-{i}", daemon=True,
                         args=(parts.hostname, port, parts.path.rstrip("/"), float(timeout), plan,
                               i * len(plan) // int(clients), tally))
        for i in range(int(clients))
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.5)
        if pid and (kb := rss_kb(pid)) is not None:
            rss.append(kb)
    seconds = time.monotonic() - started
    rss_end = rss_kb(pid) if pid else None
    if rss_end is not None:
        rss.append(rss_end)

    ordered = sorted(tally.latencies)
    replies = len(ordered)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    def mb(kb: int | None) -> float | None:
        return None if kb is None else round(kb / 1024, 1)

    return {
        "url": url,
        "clients": int(clients),
        "requests": tally.sent,
        "seconds": round(seconds, 2),
        "throughput": round(replies / seconds, 1) if seconds > 0 else 0.0,
        **tally.counts,
        "p50_ms": ms(_percentile(ordered, 0.50)),
        "p95_ms": ms(_percentile(ordered, 0.95)),
        "p99_ms": ms(_percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
        "pid": pid,
        "rss_start_mb": mb(rss_start),
        "rss_end_mb": mb(rss_end),
        "rss_max_mb": mb(max(rss) if rss else None),
        "problems": tally.examples,
    }


def passed(result: dict) -> bool:
    """Whether a run had no errors, no dropped requests and no timeouts."""
    return result["errors"] == 0 and result["dropped"] == 0 and result["timeouts"] == 0 and result["requests"] > 0

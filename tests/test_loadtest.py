"""The load test (qa.tools.loadtest, `qa loadtest`): a short run against a real ``qa serve``, its limits and checks."""

from __future__ import annotations

import json

import pytest
import served
from click.testing import CliRunner

from qa.cli import cli
from qa.config import MAX_QUESTION_CHARS
from qa.errors import InputError
from qa.tools import describe, loadtest


def test_short_run_has_no_errors_and_no_dropped_requests(served_api):
    """What CI runs: 5 clients for 2 seconds, every request answered or refused as it should be."""
    result = loadtest.run(served_api.url, clients=5, duration=2.0, max_requests=5000, timeout=10.0,
                          pid=served_api.pid)
    print("\n" + describe.load(result))
    assert result["errors"] == 0 and result["dropped"] == 0 and result["timeouts"] == 0, result["problems"]
    assert loadtest.passed(result)
    assert result["requests"] == result["ok"] + result["expected_4xx"]
    assert result["answered"] > 0 and result["refused"] > 0 and result["expected_4xx"] > 0
    assert result["seconds"] < 2.0 + 10.0 + 2.0  # stops by itself: the time limit plus one request's timeout
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["rss_start_mb"] > 0 and result["rss_end_mb"] > 0
    assert result["rss_end_mb"] - result["rss_start_mb"] < 200  # no gross leak in a few hundred requests


def test_run_stops_at_the_request_limit(served_api):
    result = loadtest.run(served_api.url, clients=3, duration=60.0, max_requests=12, questions=["工匠精神", ""])
    assert result["requests"] == 12 and result["seconds"] < 30
    assert result["ok"] + result["expected_4xx"] == 12 and result["ok"] > 0 and result["expected_4xx"] > 0
    assert result["pid"] == served_api.pid  # found from the port


def test_command_prints_one_json_object(served_api):
    result = CliRunner().invoke(cli, ["loadtest", "--url", served_api.url, "--clients", "2", "--duration", "1",
                                      "--json"])
    (line,) = result.stdout.strip().splitlines()
    data = json.loads(line)
    assert result.exit_code == 0 and data["errors"] == 0 and data["requests"] > 0
    assert data["clients"] == 2 and data["pid"] == served_api.pid


def test_command_prints_a_report_for_people(served_api):
    result = CliRunner().invoke(cli, ["loadtest", "--url", served_api.url, "--clients", "1", "--duration", "1",
                                      "--max-requests", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("3 requests from 1 client in ") and lines[-1] == "PASS"


def test_command_fails_when_the_run_fails():
    port = served.free_port()  # nothing listens on it
    result = CliRunner().invoke(cli, ["loadtest", "--url", f"http://127.0.0.1:{port}", "--clients", "1",
                                      "--max-requests", "2", "--timeout", "1", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["dropped"] == 2


def test_a_server_that_is_not_there_counts_as_dropped(tmp_path):
    port = served.free_port()  # nothing listens on it
    result = loadtest.run(f"http://127.0.0.1:{port}", clients=2, duration=2.0, max_requests=40, timeout=2.0)
    assert result["dropped"] == result["requests"] == 40
    assert not loadtest.passed(result)
    assert "ConnectionRefusedError" in result["problems"][0]


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("http://example.org:7860", {}),
        ("http://10.0.0.1:7860", {}),
        ("https://127.0.0.1:7860", {}),
        ("127.0.0.1:7860", {}),
        ("http://127.0.0.1:99999", {}),
        ("http://127.0.0.1:7860", {"clients": 0}),
        ("http://127.0.0.1:7860", {"clients": 100_000}),
        ("http://127.0.0.1:7860", {"duration": -1}),
        ("http://127.0.0.1:7860", {"max_requests": 0}),
        ("http://127.0.0.1:7860", {"timeout": 0}),
        ("http://127.0.0.1:7860", {"questions": []}),
    ],
)
def test_refuses_other_hosts_and_bad_limits(url, kwargs):
    with pytest.raises(InputError):
        loadtest.run(url, **kwargs)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.org", "this machine"),
        ("ftp://127.0.0.1:7860", "must look like http://127.0.0.1:7860"),
        ("http://127.0.0.1:99999", "must look like http://127.0.0.1:7860"),
    ],
)
def test_command_reports_a_bad_url_in_one_line(url, says):
    result = CliRunner().invoke(cli, ["loadtest", "--url", url])
    assert result.exit_code == 1 and result.stdout == ""
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and says in err[0]


@pytest.mark.parametrize(
    "args",
    [["--clients", "0"], ["--clients", "501"], ["--duration", "0"], ["--max-requests", "0"], ["--timeout", "-1"]],
)
def test_command_refuses_bad_limits_before_asking(args):
    result = CliRunner().invoke(cli, ["loadtest", "--url", "http://example.org", *args])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: Invalid value for '{args[0]}'")


@pytest.mark.parametrize(
    ("question", "invalid"),
    [
        ("工匠精神是什么？", False),
        ("What is the spirit of craftsmanship?", False),
        ("明天北京会下雨吗？", False),
        ("劳" * MAX_QUESTION_CHARS, False),
        ("", True),
        ("   ", True),
        ("？？？！！！", True),
        ("😀🎉👍", True),
        ("劳" * (MAX_QUESTION_CHARS + 1), True),
    ],
)
def test_expected_invalid_follows_the_library_check(question, invalid):
    assert loadtest.expected_invalid(question) is invalid


def test_percentiles_are_nearest_rank():
    values = [float(i) for i in range(1, 101)]
    assert [loadtest._percentile(values, p) for p in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert loadtest._percentile([], 0.5) is None

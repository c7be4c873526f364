"""``paper-agent check`` / ``check_endpoint``: the right verdict against servers that differ.

Against ``bench/fake_server.py`` on 127.0.0.1 (the CLI as a real process): tools mode, JSON
mode, and a mode the server rejects. Against respx: a rejected key, an unreachable host, a model
the server does not list, the price line, and the key never showing up in the report.
"""

from __future__ import annotations

import time

import httpx
import pytest
from fake_server_fixtures import FakeServer, run_cli
from llm_fakes import (
    API_KEY,
    BASE_URL,
    EchoModel,
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    error_response,
)

from agent import check_endpoint
from agent.check_report import safe_concurrency


def check_cli(tmp_path, server, *args: str):
    r = run_cli(["check", "--base-url", server.base_url, "--model", "fake", *args], cwd=tmp_path, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def line(output: str, name: str) -> str:
    return next(ln for ln in output.splitlines() if ln.split()[1:2] == [name])


# --------------------------------------------------------------------------- fake server, CLI


def shape(output: str, name: str) -> str:
    return next(ln for ln in output.splitlines() if ln.split()[1:3] == ["shape", name])


def test_check_probes_each_shape_and_recommends_the_best_constrained_one(tmp_path):
    with FakeServer(reject_modes=["json_schema"], ratelimit_requests=6000) as server:
        r = check_cli(tmp_path, server)
        # probes of json_object_schema and tools, then the 3 seed papers in the chosen shape
        # (json is rejected before the server counts it; plain JSON is not probed once one works)
        assert server.total_requests == 5
    assert r.returncode == 0, r.stdout + r.stderr
    assert shape(r.stdout, "json").startswith("??") and "rejected: HTTP 400" in shape(r.stdout, "json")
    assert shape(r.stdout, "json_object_schema").startswith("ok") and "constrained" in r.stdout
    assert line(r.stdout, "json_object_schema").startswith("ok")
    assert "3/3 valid" in line(r.stdout, "json_object_schema")
    assert "x-ratelimit-limit-requests=6000/min" in r.stdout
    assert "recommendation: --mode json_object_schema --concurrency" in r.stdout
    assert "--mode auto, the default, picks json_object_schema" in r.stdout


def test_check_in_json_mode_only_passes_and_recommends_json(tmp_path):
    with FakeServer(reject_modes=["tools"]) as server:
        r = check_cli(tmp_path, server, "--mode", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert line(r.stdout, "json").startswith("ok") and "tools" not in [
        ln.split()[1] for ln in r.stdout.splitlines()[1:]
    ]
    assert "no x-ratelimit-* headers" in r.stdout
    assert "recommendation: --mode json --concurrency 8" in r.stdout


def test_check_of_a_mode_the_server_rejects_exits_1_with_the_fix(tmp_path):
    with FakeServer(reject_modes=["tools"]) as server:
        r = check_cli(tmp_path, server, "--mode", "tools")
    assert r.returncode == 1, r.stdout
    tools = line(r.stdout, "tools")
    assert tools.startswith("FAIL") and "400: the server rejects tool calling" in tools
    assert "tools param requires --jinja flag" in tools
    assert "use --mode json or --mode json_object_schema or --mode json_object" in tools
    assert "recommendation: no mode gave valid answers" in r.stdout


def test_a_server_that_never_answers_chat_is_bounded_by_the_check_budget(monkeypatch):
    """Scaled down (budget 3 s, calls 1 s): before the bound this took 3 modes x 2 tries x timeout."""
    monkeypatch.setattr("agent.check.CHECK_BUDGET", 3.0)
    monkeypatch.setattr("agent.check.CALL_TIMEOUT", 1.0)
    with FakeServer(rate_hang=1.0, hang_seconds=30) as server:
        started = time.monotonic()
        report = check_endpoint(base_url=server.base_url, model="fake")
        took = time.monotonic() - started
    assert took < 5
    # every shape probe timed out, so only the unconstrained last resort got a seed run
    assert report.profile is not None and {v.status for v in report.profile.verdicts} == {"timeout"}
    assert report.exit_code == 1 and [m.mode for m in report.modes] == ["json_object"]
    assert all(m.valid == 0 for m in report.modes)
    assert any("the check's 3 s" in f for f in report.failures)


def test_check_is_never_cached(tmp_path):
    with FakeServer() as server:
        for _ in range(2):
            report = check_endpoint(base_url=server.base_url, model="fake", mode="json_object")
            assert report.exit_code == 0
        assert server.total_requests == 6


def test_unknown_mode_is_a_one_line_error(tmp_path):
    with FakeServer() as server:
        r = check_cli(tmp_path, server, "--mode", "xml")
    assert r.returncode == 2 and r.stderr.strip().startswith("error: unknown mode 'xml'")


# --------------------------------------------------------------------------- respx


def models(*names: str) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": [{"id": n, "object": "model"} for n in names]})


def test_rejected_key_fails_with_the_fix_and_no_chat_call(api):
    api.get("/models").mock(return_value=error_response(401, f"Incorrect API key provided: {API_KEY}"))
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY)
    assert report.exit_code == 1 and [c.request.url.path for c in api.calls] == ["/v1/models"]
    assert any("401: key rejected" in f and "set OPENAI_API_KEY" in f for f in report.failures)
    assert API_KEY not in "\n".join(report.lines())


def test_unreachable_host_fails_in_one_line(api):
    api.get("/models").mock(side_effect=httpx.ConnectError("Connection refused"))
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY)
    assert report.exit_code == 1 and not report.modes
    assert report.failures == [next(s.line() for s in report.steps if s.name == "reachable")]
    assert "cannot connect to http://fake/v1 (ConnectError)" in report.failures[0]
    assert "fix --base-url" in report.failures[0]


def test_model_not_listed_is_named_with_what_the_server_lists(api):
    api.get("/models").mock(return_value=models("llama3.1:8b", "qwen3:4b"))
    api.post("/chat/completions").mock(return_value=error_response(404, "model 'gpt-4o-mini' not found"))
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY, mode="tools")
    assert report.exit_code == 1
    text = "\n".join(report.lines())
    assert "'gpt-4o-mini' is not listed (the server lists: llama3.1:8b, qwen3:4b)" in text
    assert "pass --model with a listed name" in text
    assert all(not m.works and m.problem.startswith("404: ") and "check --model" in m.problem for m in report.modes)


def test_a_working_mode_is_priced_per_1000_papers(api):
    api.get("/models").mock(return_value=models("gpt-4o-mini"))
    api.post("/chat/completions").mock(side_effect=EchoModel(usage=(100, 10)))
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY, mode="tools")
    assert report.exit_code == 0 and report.recommended_mode == "tools"
    # 1,000 papers x (100 prompt x $0.15 + 10 completion x $0.60) per million tokens
    assert report.cost_per_1000 == pytest.approx(0.021)
    assert "$0.02 per 1,000 papers at gpt-4o-mini prices" in "\n".join(report.lines())


def test_rate_limit_headers_of_the_chat_replies_reach_the_report(api):
    """Only the chat replies carry them here: the backend's ``on_response`` hook is what sees them."""
    echo = EchoModel()

    def with_limits(request: httpx.Request) -> httpx.Response:
        reply = echo(request)
        reply.headers["x-ratelimit-limit-requests"] = "600"
        return reply

    api.get("/models").mock(return_value=models("gpt-4o-mini"))
    api.post("/chat/completions").mock(side_effect=with_limits)
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY, mode="tools")
    assert report.exit_code == 0 and report.rate_limits == {"x-ratelimit-limit-requests": "600"}
    assert "x-ratelimit-limit-requests=600/min" in report.concurrency_basis


def test_an_unpriced_model_says_so(api):
    api.get("/models").mock(return_value=models("my-local-model"))
    api.post("/chat/completions").mock(side_effect=EchoModel())
    report = check_endpoint(base_url=BASE_URL, model="my-local-model", mode="json")
    assert report.exit_code == 0 and report.cost_per_1000 is None
    assert "no price for 'my-local-model'" in report.cost_note


def test_key_echoed_in_a_chat_error_never_reaches_the_report(api):
    api.get("/models").mock(return_value=httpx.Response(404, text="not found"))
    api.post("/chat/completions").mock(return_value=error_response(401, f"Incorrect API key provided: {API_KEY}"))
    report = check_endpoint(base_url=BASE_URL, model="gpt-4o-mini", api_key=API_KEY, mode="tools")
    text = "\n".join(report.lines())
    assert report.exit_code == 1 and API_KEY not in text and "401: key rejected" in text


@pytest.mark.parametrize(
    "headers, latency, expected",
    [
        ({"x-ratelimit-limit-requests": "600"}, 2.0, 16),  # 10 calls/s x 2 s x 0.8
        ({"x-ratelimit-limit-requests": "60000", "x-ratelimit-limit-tokens": "120000"}, 1.0, 1),  # tokens bind
        ({"x-ratelimit-limit-requests": "10000000"}, 5.0, 256),  # capped
        ({}, 1.0, 8),  # nothing announced: the default
    ],
)
def test_safe_concurrency_stays_inside_the_announced_limits(headers, latency, expected):
    n, basis = safe_concurrency(headers, latency, calls_per_paper=1.0, tokens_per_paper=1500)
    assert n == expected and basis


def test_a_mode_whose_answers_have_the_schemas_shape_but_break_a_content_rule_works(api):
    """A small model's answers: constrained by the server, but a TL;DR that says nothing. The
    server works (exit 0, the mode is recommended); what the model wrote is said, not hidden."""
    api.get("/models").mock(return_value=models("smollm2"))
    api.post("/chat/completions").mock(side_effect=EchoModel(tldr="This paper proposes a novel method."))
    report = check_endpoint(base_url=BASE_URL, model="smollm2", mode="json")
    assert report.exit_code == 0 and report.recommended_mode == "json"
    (mode,) = report.modes
    assert (mode.valid, mode.well_formed, mode.papers) == (0, 3, 3)
    text = "\n".join(report.lines())
    assert "0/3 valid (3 broke a content rule:" in text and "tldr is generic" in text
    assert "the server constrains the mode" in text


def test_answers_outside_the_schema_fail_the_mode(api):
    api.get("/models").mock(return_value=models("smollm2"))
    api.post("/chat/completions").mock(side_effect=EchoModel(primary="HACKED"))
    report = check_endpoint(base_url=BASE_URL, model="smollm2", mode="json")
    assert report.exit_code == 1 and report.modes[0].well_formed == 0

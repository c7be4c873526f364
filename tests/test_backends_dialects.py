"""--mode auto: the probe that finds which request shape a server really constrains, the memory
of it per endpoint and model, and the request the backend then sends.

Each server is replayed with respx from ``tests/data/servers/*.json``: what it answers to each
probe shape and to its self-description endpoints. ``llama_cpp_python.json`` (0.3.36) and
``llama_server.json`` (llama.cpp as vendored there) were recorded from the real servers with
SmolLM2-135M (bench/real_model.py --record); the others follow the servers' documentation and issue
trackers (agent/backends/dialects.py) until they are recorded the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from llm_fakes import (
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    body_of,
    make_agent,
    make_paper,
    ok_response,
    reply_args,
)

from agent.backends.dialects import EndpointMemory, json_object_schema, probe_body
from agent.backends.probe import probe_endpoint, resolve_mode
from agent.errors import ConfigError

SERVERS = Path(__file__).parent / "data" / "servers"
BASE = "http://127.0.0.1:8765/v1"


def replay(router: respx.MockRouter, name: str, papers: Any = None) -> respx.Route:
    """Mount a recorded server on ``router``: GET endpoints as recorded, each probe shape answered
    as recorded; ``papers(request)``, if given, answers the requests that are not probes."""
    server = json.loads((SERVERS / f"{name}.json").read_text(encoding="utf-8"))
    root = BASE.removesuffix("/v1")
    for path, reply in server.get("get", {}).items():
        router.get(f"{root}{path}").mock(return_value=httpx.Response(reply["status"], json=reply.get("json")))
    router.get(url__regex=rf"{root}/.*").mock(return_value=httpx.Response(404, json={"error": "not found"}))

    def chat(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if papers is not None and "zq_probe" not in json.dumps(body):
            return papers(request)
        reply = server["chat"][_shape_of(body)]
        return httpx.Response(reply["status"], json=reply["json"])

    return router.post(f"{BASE}/chat/completions").mock(side_effect=chat)


def _shape_of(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return "json"
    if fmt.get("type") == "json_object":
        return "json_object_schema" if "schema" in fmt else "json_object"
    return "tools" if body.get("tools") else "text"


@pytest.mark.parametrize(
    "server, mode, kind, slots",
    [
        ("llama_cpp_python", "json_object_schema", "llama-cpp-python", 1),
        ("llama_server", "json", "llama.cpp llama-server", 4),
        ("ollama", "json", "Ollama", None),
        ("vllm", "json", "vLLM", None),
    ],
)
def test_the_probe_picks_the_shape_each_server_really_constrains(server, mode, kind, slots):
    with respx.mock(assert_all_called=False) as router:
        replay(router, server)
        profile = probe_endpoint(BASE, "smollm2")
    assert (profile.mode, profile.server, profile.slots) == (mode, kind, slots)


def test_a_200_that_ignores_the_schema_is_not_taken_for_a_constrained_shape():
    with respx.mock(assert_all_called=False) as router:
        replay(router, "llama_server")
        profile = probe_endpoint(BASE, "smollm2")
    verdicts = {v.shape: v.status for v in profile.verdicts}
    # llama-server answers a named tool_choice with 200 but treats it as "auto": plain text comes back.
    assert verdicts["tools"] == "unconstrained" and verdicts["json"] == "constrained"


def test_a_server_that_constrains_nothing_is_one_config_error_naming_each_shape(tmp_path):
    with respx.mock(assert_all_called=False) as router:
        replay(router, "unconstrained")
        with pytest.raises(ConfigError) as err:
            resolve_mode("auto", BASE, "m", None, tmp_path, 5.0)
    message = str(err.value)
    assert "constrained no structured-output shape" in message and "\n" not in message
    for shape in ("json:", "json_object_schema:", "tools:"):
        assert shape in message


def test_auto_is_remembered_per_endpoint_and_model(tmp_path):
    with respx.mock(assert_all_called=False) as router:
        replay(router, "llama_cpp_python")
        first = resolve_mode("auto", BASE, "smollm2", None, tmp_path, 5.0)
        probes = len(router.calls)
        again = resolve_mode("auto", BASE, "smollm2", None, tmp_path, 5.0)
        assert len(router.calls) == probes  # no second probe
    assert first[0] == again[0] == "json_object_schema"
    assert EndpointMemory(tmp_path).get(BASE, "smollm2") is not None
    assert EndpointMemory(tmp_path).get(BASE, "another-model") is None


def test_auto_on_api_openai_com_needs_no_probe(tmp_path):
    with respx.mock(assert_all_mocked=True) as router:
        assert resolve_mode("auto", "https://api.openai.com/v1", "gpt-4o-mini", "k", tmp_path, 5.0) == ("tools", None)
        assert not router.calls


def test_auto_sends_llama_cpp_pythons_shape_and_one_request_at_a_time(tmp_path):
    paper = make_paper(1)
    with respx.mock(assert_all_called=False) as router:
        answer = ok_response(reply_args(paper.abstract.split(".")[0][:40]), mode="json")
        route = replay(router, "llama_cpp_python", papers=lambda _request: answer)
        agent = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto")
        result = agent.analyze(paper)
        sent = body_of(route.calls.last.request)
    assert result.status == "ok", result.error
    assert sent["response_format"]["type"] == "json_object" and "properties" in sent["response_format"]["schema"]
    assert agent.backend.limiter.maximum == 1  # llama-cpp-python serves one request at a time


def test_an_explicit_concurrency_is_kept_even_on_a_single_slot_server(tmp_path):
    with respx.mock(assert_all_called=False) as router:
        replay(router, "llama_cpp_python")
        agent = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto", concurrency=4)
        agent.backend.resolve_mode()
    assert agent.backend.limiter.maximum == 4


def test_json_object_schema_moves_the_schema_into_llama_cpp_pythons_shape():
    fmt = {"type": "json_schema", "json_schema": {"name": "PaperTriage", "schema": {"type": "object"}}}
    assert json_object_schema(fmt) == {"type": "json_object", "schema": {"type": "object"}}
    assert probe_body("m", "json_object_schema")["response_format"]["schema"]["required"] == ["zq_probe"]


def test_the_reply_schema_bounds_every_string_and_max_tokens_is_sized_to_it(tmp_path):
    agent = make_agent(tmp_path, cache=False, mode="json")
    body = agent.backend.request_body(make_paper(1))
    props = body["response_format"]["json_schema"]["schema"]["properties"]
    assert props["tldr"]["maxLength"] and props["evidence"]["maxLength"]
    assert props["secondary"]["maxItems"] == 4
    # a grammar ends a runaway string at its maxLength before max_tokens cuts the reply off
    # (one token a character at worst), and no longer than that
    assert props["tldr"]["maxLength"] + props["evidence"]["maxLength"] < body["max_tokens"] <= 800
    # grammars enforce an enum, not a number's minimum/maximum (SmolLM2 answered 10 and 100)
    assert props["confidence"]["enum"][0] == 0.0 and props["confidence"]["enum"][-1] == 1.0
    assert len(props["confidence"]["enum"]) == 21
    assert "enum" not in props["evidence"]  # an explicit mode on an unprobed server: free evidence


@pytest.mark.parametrize("server, where", [("llama_cpp_python", "schema"), ("llama_server", "json_schema")])
def test_on_a_probed_local_server_the_grammar_chooses_the_evidence_from_the_abstract(tmp_path, server, where):
    paper = make_paper(1).model_copy(
        update={
            "abstract": 'We study retrieval. Our "memorize" step, written as $\\alpha$-memory, helps ranking a lot.'
        }
    )
    with respx.mock(assert_all_called=False) as router:
        answer = ok_response(reply_args("Our"), mode="json")
        route = replay(router, server, papers=lambda _request: answer)
        agent = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto")
        agent.analyze(paper)
        sent = body_of(route.calls.last.request)
    fmt = sent["response_format"]
    schema = fmt[where]["schema"] if where == "json_schema" else fmt["schema"]
    choices = schema["properties"]["evidence"]["enum"]
    assert choices and all(c in paper.abstract for c in choices)
    # no quote or backslash: llama-cpp-python 0.3.36 dies on a grammar literal holding one
    assert not any('"' in c or "\\" in c for c in choices)
    assert "We study retrieval" in choices
    assert "evidence" in agent.explain(paper)["components"]  # part of the cache key


def test_an_unreachable_endpoint_fails_each_paper_once_probed_and_remembers_nothing(tmp_path):
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=httpx.ConnectError("Connection refused"))
        agent = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto")
        results = [agent.analyze(make_paper(i)) for i in range(3)]
        probes = len(router.calls)
    assert [r.status for r in results] == ["error"] * 3
    assert "could not reach" in results[0].error and "Connection refused" in results[0].error
    assert probes <= 8  # one probe for the run (self-description GETs and 4 shapes), not one per paper
    assert EndpointMemory(tmp_path / "cache").get(BASE, "gpt-4o-mini") is None


def test_a_small_context_per_slot_gets_the_compact_prompt_and_the_slots_as_concurrency(tmp_path):
    with respx.mock(assert_all_called=False) as router:
        replay(router, "llama_server_split_context")  # 4 slots sharing -c 8192: 2048 tokens each
        agent = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto")
        kept = make_agent(tmp_path, cache=False, base_url=BASE, mode="auto", prompt_version="triage-v1")
    backend = agent.backend
    assert (backend.mode, backend.prompt_version, backend.limiter.maximum) == ("json", "triage-compact-v1", 4)
    assert len(backend.prompt.system.split()) < 200
    assert kept.backend.prompt_version == "triage-v1"  # a prompt the user chose is kept
    # the cache key is made of the prompt actually sent
    paper = make_paper(1)
    assert agent.explain(paper)["components"]["prompt"] != kept.explain(paper)["components"]["prompt"]

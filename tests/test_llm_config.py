"""The openai backend fails fast on a configuration that cannot work, and says where it tried."""

from __future__ import annotations

import httpx
import pytest
from llm_fakes import (
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    make_agent,
    make_paper,
    ok_response,
    reply_args,
    write_papers,
)

from agent import Agent, ConfigError
from agent.schema import MAX_TLDR_CHARS

PAPER = make_paper(1)
EVIDENCE = "a retrieval-augmented generation pipeline"


def test_backend_openai_without_key_or_base_url_is_a_config_error_at_once():
    with pytest.raises(ConfigError) as info:
        Agent(backend="openai")
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "OPENAI_BASE_URL" in message and "\n" not in message


def test_backend_openai_without_key_or_base_url_exits_2_before_any_call(cli, tmp_path):
    write_papers(tmp_path / "papers.jsonl", [PAPER])
    proc = cli("run", "papers.jsonl", "--backend", "openai", "-o", "out.jsonl")
    assert proc.returncode == 2
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and "OPENAI_API_KEY" in line
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("settings", [{"api_key": "sk-only-a-key-123456"}, {"base_url": "http://localhost:8000/v1"}])
def test_backend_openai_with_a_key_or_a_base_url_is_accepted(settings):
    with Agent(backend="openai", **settings) as agent:
        assert agent.backend.name == "openai"


def test_a_connection_error_names_the_host_it_tried(api, tmp_path):
    api.post("/chat/completions").mock(side_effect=httpx.ConnectError("connection refused"))
    result = make_agent(tmp_path, cache=False, retry_attempts=1).analyze(PAPER)
    assert result.status == "error"
    assert "APIConnectionError" in result.error and "fake" in result.error


def test_a_tldr_over_the_character_cap_is_re_asked(api, tmp_path):
    route = api.post("/chat/completions").mock(return_value=ok_response(reply_args(EVIDENCE, tldr="x" * 5000)))
    result = make_agent(tmp_path, cache=False, max_retries=1).analyze(PAPER)
    assert result.status == "invalid" and f"at most {MAX_TLDR_CHARS} characters" in result.error
    assert route.call_count == 2

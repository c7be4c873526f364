"""Shared fakes for the LLM-backend tests: ChatCompletion bodies, respx side effects, agents.

Every test drives the real ``OpenAIBackend`` (instructor + openai + httpx) against respx, so
what is checked is the HTTP that would go to a real endpoint. Backends are built with a
no-op ``sleep`` so retries never wait, and with ``cache_dir`` under ``tmp_path``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.backends.openai import OpenAIBackend
from agent.pipeline import Agent
from agent.schema import Paper
from agent.settings import Settings
from agent.taxonomy import load_taxonomy

BASE_URL = "http://fake/v1"
API_KEY = "sk-TESTKEY-abcdefghijklmnop"
ABSTRACT_RE = re.compile(r"<abstract>\n(.*?)\n</abstract>", re.S)
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def _isolate_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Complements ``conftest.isolated_env`` (tmp HOME, cache, cwd): drop every OPENAI_* variable
    too (OPENAI_ORG_ID, OPENAI_PROJECT_ID... would add headers to the mocked requests)."""
    import os

    for name in list(os.environ):
        if name.startswith(("OPENAI_", "PAPER_AGENT_")) and name != "PAPER_AGENT_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    # respx intercepts httpx's own transport; the default aiohttp transport is tested over
    # sockets against bench/fake_server.py (test_faults.py, test_backends_transport.py).
    monkeypatch.setenv("PAPER_AGENT_HTTP_CLIENT", "httpx")
    monkeypatch.setenv("PAPER_AGENT_MODE", "tools")  # as conftest.isolated_env (deleted just above)


_SSL_CONTEXTS: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _shared_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every backend builds new httpx clients and each loads the CA bundle (~50 ms); respx never
    opens a socket, so the tests share one context per argument set (speed only)."""
    import httpx._transports.default as transport

    original = getattr(transport, "create_ssl_context", None)
    if original is None:
        return

    def cached(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, sorted(kwargs.items())))
        if key not in _SSL_CONTEXTS:
            _SSL_CONTEXTS[key] = original(*args, **kwargs)
        return _SSL_CONTEXTS[key]

    monkeypatch.setattr(transport, "create_ssl_context", cached)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------- papers


def make_paper(i: int, *, abstract: str | None = None, digest_summary: str | None = None, **kw: Any) -> Paper:
    """A small paper whose abstract is unique to ``i`` (so requests can be routed by content)."""
    return Paper(
        id=f"2601.{i:05d}",
        title=kw.pop("title", f"Paper number {i} on retrieval"),
        abstract=abstract
        if abstract is not None
        else (
            f"We propose method-{i}, a retrieval-augmented generation pipeline for question answering. "
            f"Experiments on benchmark-{i} show gains over strong baselines."
        ),
        url=f"https://arxiv.org/abs/2601.{i:05d}",
        digest_summary=digest_summary,
        **kw,
    )


def write_papers(path: Path, papers: list[Paper]) -> Path:
    """Papers as a JSONL input file that ``triage`` / ``paper-agent run`` read."""
    path.write_text(
        "\n".join(
            json.dumps(p.model_dump(include={"id", "title", "authors", "abstract", "digest_summary"})) for p in papers
        )
        + "\n",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------- replies


def reply_args(
    evidence: str,
    *,
    primary: str = "rag",
    secondary: list[str] | None = None,
    confidence: float = 0.9,
    tldr: str = "The paper proposes a retrieval pipeline.",
) -> dict[str, Any]:
    return {
        "primary": primary,
        "secondary": secondary or [],
        "confidence": confidence,
        "evidence": evidence,
        "tldr": tldr,
    }


def completion(
    message: dict[str, Any], usage: tuple[int, int] | None = (100, 10), finish: str = "stop"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def tool_body(args: dict[str, Any] | str, usage: tuple[int, int] | None = (100, 10)) -> dict[str, Any]:
    """A tools-mode reply; ``args`` may be a raw (even malformed) arguments string."""
    arguments = args if isinstance(args, str) else json.dumps(args)
    call = {"id": "call_1", "type": "function", "function": {"name": "PaperTriage", "arguments": arguments}}
    return completion({"role": "assistant", "content": None, "tool_calls": [call]}, usage)


def json_body(args: dict[str, Any] | str, usage: tuple[int, int] | None = (100, 10)) -> dict[str, Any]:
    """A JSON-mode (response_format) reply: the object is the message content."""
    content = args if isinstance(args, str) else json.dumps(args)
    return completion({"role": "assistant", "content": content}, usage)


def ok_response(args: dict[str, Any], usage: tuple[int, int] | None = (100, 10), mode: str = "tools") -> httpx.Response:
    return httpx.Response(200, json=(tool_body if mode == "tools" else json_body)(args, usage))


def error_response(
    status: int, message: str = "boom", code: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    error: dict[str, Any] = {"message": message, "type": "error"}
    if code is not None:
        error["code"] = code
    return httpx.Response(status, json={"error": error}, headers=headers)


# --------------------------------------------------------------------------- requests


def body_of(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def system_of(request: httpx.Request) -> str:
    return next(m["content"] for m in body_of(request)["messages"] if m["role"] == "system")


def user_of(request: httpx.Request) -> str:
    return [m["content"] for m in body_of(request)["messages"] if m["role"] == "user"][-1]


def abstract_of(request: httpx.Request) -> str:
    """The abstract as fenced in the first user message of the request."""
    first_user = next(m["content"] for m in body_of(request)["messages"] if m["role"] == "user")
    match = ABSTRACT_RE.search(first_user)
    assert match, f"no <abstract> fence in the user message: {first_user[:200]!r}"
    return match.group(1)


def request_mode(request: httpx.Request) -> str:
    body = body_of(request)
    return "tools" if "tools" in body else "json"


class EchoModel:
    """A respx side effect that answers every request with a valid reply.

    ``evidence`` is the first words of the abstract found in the request, so it always passes
    the evidence check; the reply's shape (tool call or JSON content) follows the request.
    ``override(request)`` may return a response (or raise) to replace the echo for some requests.
    """

    def __init__(
        self,
        primary: str = "rag",
        usage: tuple[int, int] = (100, 10),
        override: Callable[[httpx.Request], httpx.Response | None] | None = None,
        **args: Any,
    ) -> None:
        self.primary = primary
        self.usage = usage
        self.override = override
        self.args = args
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.override is not None:
            forced = self.override(request)
            if forced is not None:
                return forced
        evidence = " ".join(abstract_of(request).split()[:5])
        return ok_response(reply_args(evidence, primary=self.primary, **self.args), self.usage, request_mode(request))


# --------------------------------------------------------------------------- agents


class FakeSleep:
    """A no-op ``sleep`` that records what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "api_key": API_KEY,
        "model": "gpt-4o-mini",
        "cache_dir": tmp_path / "cache",
        "retry_attempts": 3,
        "mode": "tools",
    }
    values.update(overrides)
    return Settings(**values)


def make_agent(
    tmp_path: Path,
    *,
    cache: bool = True,
    refresh: bool = False,
    sleep: FakeSleep | None = None,
    taxonomy: Any = None,
    prompt: Any = None,
    **overrides: Any,
) -> Agent:
    """An Agent over a real OpenAIBackend with a no-op sleep; ``overrides`` go to Settings."""
    settings = make_settings(tmp_path, **overrides)
    tax = taxonomy or load_taxonomy()
    backend = OpenAIBackend(settings, tax, prompt=prompt, sleep=sleep or FakeSleep())
    return Agent(backend=backend, settings=settings, taxonomy=tax, cache=cache, refresh=refresh)

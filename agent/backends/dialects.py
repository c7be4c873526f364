"""Which request shape an OpenAI-compatible server really constrains, found by asking it.

Servers disagree on how a JSON schema is sent, and several fail *open*: HTTP 200 with output
the schema never constrained (llama.cpp's ``llama-server`` turns a named ``tool_choice`` into
``auto``; Ollama drops the ``schema`` of a ``json_object`` request). So a probe checks the
answer, not the status code: it sends a schema whose only valid instance is
``{"zq_probe": "x7"}`` with a prompt that does not ask for JSON, in each shape, and accepts a
shape only when exactly that instance comes back. A model cannot guess it; only a grammar
that enforces the schema produces it.

The shapes (``--mode``):

- ``json``: ``response_format: {"type": "json_schema", "json_schema": {"name", "schema"}}``
  (OpenAI, vLLM, llama.cpp's llama-server, Ollama >= 0.5, LM Studio);
- ``json_object_schema``: ``response_format: {"type": "json_object", "schema": S}``
  (llama-cpp-python's ``llama_cpp.server``, which rejects ``json_schema`` with a 500);
- ``tools``: a function tool with a named ``tool_choice`` (OpenAI, vLLM);
- ``json_object``: plain JSON mode, the schema only in the prompt (unconstrained: a last resort).

``--mode auto`` (the default) uses the best constrained shape, remembered per endpoint and
model in ``<cache_dir>/endpoints.json`` so the probe runs once, not once per run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.errors import ConfigError
from agent.redaction import strip_url_credentials

SHAPES = ("json", "json_object_schema", "tools", "json_object")
"""Every concrete mode, best first: ``auto`` picks the first one the probe accepts."""
CONSTRAINED = ("json", "json_object_schema", "tools")
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"zq_probe": {"type": "string", "enum": ["x7"]}},
    "required": ["zq_probe"],
    "additionalProperties": False,
}
PROBE_INSTANCE = {"zq_probe": "x7"}
PROBE_PROMPT = "Say hello to the reader in one short sentence."
OPENAI_HOSTS = ("api.openai.com",)
MEMORY_FILE = "endpoints.json"
COMPACT_PROMPT = "triage-compact-v1"
SMALL_CONTEXT = 4096
"""Tokens of context per slot below which the full prompt, a reply and a re-ask may not fit
(llama-server splits ``-c`` between its slots): the compact prompt is used there."""


def json_object_schema(response_format: dict[str, Any]) -> dict[str, Any]:
    """A ``json_schema`` response format rewritten as llama-cpp-python's ``json_object`` + ``schema``."""
    schema = (response_format.get("json_schema") or {}).get("schema")
    return {"type": "json_object", "schema": schema} if schema is not None else response_format


def shaped(body: dict[str, Any], mode: str | None, evidence: list[str] | None = None) -> dict[str, Any]:
    """``body`` as sent to a server of ``mode``: ``json_object_schema`` moves the schema into
    ``{"type": "json_object", "schema": ...}`` (llama-cpp-python rejects ``json_schema``), and
    ``evidence`` (when given) narrows the evidence field to those choices. Idempotent."""
    if mode == "json_object_schema" and isinstance(body.get("response_format"), dict):
        body = {**body, "response_format": json_object_schema(body["response_format"])}
    return with_evidence_choices(body, evidence) if evidence else body


def with_evidence_choices(body: dict[str, Any], choices: list[str]) -> dict[str, Any]:
    """``body`` with the reply schema's ``evidence`` narrowed to an ``enum`` of ``choices``, in
    whichever shape carries the schema (``json_schema``, ``json_object`` + ``schema``, a tool's
    parameters); copies only what it changes. Unchanged when no choices or no schema is found."""

    def narrowed(schema: Any) -> Any:
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not choices or not isinstance(props, dict) or not isinstance(props.get("evidence"), dict):
            return schema
        return {**schema, "properties": {**props, "evidence": {**props["evidence"], "enum": list(choices)}}}

    rf = body.get("response_format")
    if isinstance(rf, dict) and isinstance(rf.get("json_schema"), dict):
        return {
            **body,
            "response_format": {
                **rf,
                "json_schema": {**rf["json_schema"], "schema": narrowed(rf["json_schema"].get("schema"))},
            },
        }
    if isinstance(rf, dict) and "schema" in rf:
        return {**body, "response_format": {**rf, "schema": narrowed(rf["schema"])}}
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) == 1 and isinstance(tools[0].get("function"), dict):
        fn = tools[0]["function"]
        return {**body, "tools": [{**tools[0], "function": {**fn, "parameters": narrowed(fn.get("parameters"))}}]}
    return body


def probe_body(model: str, shape: str) -> dict[str, Any]:
    """The chat-completions body that asks for the probe instance in ``shape``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROBE_PROMPT}],
        "max_tokens": 24,
        "temperature": 0,
    }
    if shape == "json":
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "zq", "schema": PROBE_SCHEMA}}
    elif shape == "json_object_schema":
        body["response_format"] = {"type": "json_object", "schema": PROBE_SCHEMA}
    elif shape == "tools":
        body["tools"] = [{"type": "function", "function": {"name": "zq", "parameters": PROBE_SCHEMA}}]
        body["tool_choice"] = {"type": "function", "function": {"name": "zq"}}
    elif shape == "json_object":
        body["response_format"] = {"type": "json_object"}
    else:
        raise ConfigError(f"unknown mode {shape!r}: use auto or one of {', '.join(SHAPES)}")
    return body


def probe_answer(reply: Any) -> Any:
    """The JSON value a probe reply carries (tool-call arguments or the message content), or None."""
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    calls = message.get("tool_calls") or []
    text = calls[0].get("function", {}).get("arguments") if calls else message.get("content")
    if not isinstance(text, str):
        return text if isinstance(text, dict) else None
    try:
        return json.loads(text.strip())
    except ValueError:
        return None


@dataclass
class Verdict:
    """What one request shape did: ``constrained`` (the probe instance came back),
    ``unconstrained`` (200, something else), ``rejected`` (4xx/5xx) or ``timeout``/``error``."""

    shape: str
    status: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class EndpointProfile:
    """A server as the probe found it: its shapes, its kind and parallel slots where it says."""

    base_url: str
    model: str
    verdicts: list[Verdict] = field(default_factory=list)
    server: str | None = None
    slots: int | None = None
    context: int | None = None
    checked_at: float = 0.0

    @property
    def mode(self) -> str | None:
        """The best constrained shape, or None when the server constrains none."""
        ok = {v.shape for v in self.verdicts if v.status == "constrained"}
        return next((s for s in CONSTRAINED if s in ok), None)

    @property
    def context_per_request(self) -> int | None:
        """Tokens of context a request can count on when every slot is busy. llama-server's
        ``/props`` ``n_ctx`` is its per-slot limit, but with its unified KV cache (the default
        since 2025) the slots share that one cache: 4 slots and ``-c 8192`` report 8192 each and
        hold 2048 each when all are busy. Measured with 4 full prompts in flight: "failed to find
        free space in the KV cache" and prompts evaluated at 67-199 tokens/s instead of ~1,000."""
        if not self.context:
            return None
        return self.context // max(1, self.slots or 1)

    @property
    def small_context(self) -> bool:
        """Too little context per request for the full prompt, a reply and a re-ask."""
        per_request = self.context_per_request
        return per_request is not None and per_request < SMALL_CONTEXT

    @property
    def latency_s(self) -> float | None:
        """Seconds of the slowest constrained probe answer (a short reply; real ones are longer)."""
        times = [v.seconds for v in self.verdicts if v.status == "constrained"]
        return max(times) if times else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointProfile:
        verdicts = [Verdict(**v) for v in data.get("verdicts", [])]
        return cls(**{**data, "verdicts": verdicts})


def _key(base_url: str, model: str) -> str:
    return f"{strip_url_credentials(base_url.rstrip('/'))} {model}"


class EndpointMemory:
    """What the probe found, per endpoint and model, in ``<cache_dir>/endpoints.json``."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.path = Path(cache_dir) / MEMORY_FILE

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str, model: str) -> EndpointProfile | None:
        entry = self._load().get(_key(base_url, model))
        try:
            return EndpointProfile.from_json(entry) if isinstance(entry, dict) else None
        except TypeError:  # written by another version
            return None

    def put(self, profile: EndpointProfile) -> None:
        """Remember ``profile`` (atomically: a concurrent run reads the old or the new file)."""
        data = self._load()
        data[_key(profile.base_url, profile.model)] = profile.to_json()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{time.monotonic_ns()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass  # memory is an optimisation: the next run probes again


def is_openai(base_url: str) -> bool:
    """api.openai.com: its shapes are documented, so ``auto`` needs no probe there."""
    return (urlsplit(base_url).hostname or "") in OPENAI_HOSTS

"""Probe an endpoint: which request shapes it constrains, what server it is, how many slots.

Plain httpx and a handful of short requests (``max_tokens`` 24 each), so ``check`` and
``--mode auto`` learn a server's dialect in seconds. See ``agent.backends.dialects`` for why
the answer, not the status code, decides.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from agent.backends.dialects import (
    CONSTRAINED,
    PROBE_INSTANCE,
    SHAPES,
    EndpointMemory,
    EndpointProfile,
    Verdict,
    is_openai,
    probe_answer,
    probe_body,
)
from agent.errors import ConfigError
from agent.httpread import read_within
from agent.redaction import strip_url_credentials

PROBE_BUDGET_S = 60.0
"""Total seconds the shape probes may take: a server that never answers costs a minute, not more."""


def probe_endpoint(
    base_url: str,
    model: str,
    api_key: str | None = None,
    *,
    timeout: float = 30.0,
    shapes: tuple[str, ...] = SHAPES,
    transport: httpx.BaseTransport | None = None,
    budget: float = PROBE_BUDGET_S,
) -> EndpointProfile:
    """Ask ``base_url`` for the probe instance in each of ``shapes`` and note the server's facts.

    ``json_object`` (unconstrained) is only tried when no constrained shape worked. Each request
    has ``timeout`` seconds in all (not per read), and the probes together ``budget``.
    """
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key or 'not-needed'}"}
    profile = EndpointProfile(base_url=base, model=model, checked_at=time.time())
    deadline = time.monotonic() + budget
    with httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, transport=transport) as http:
        _server_facts(http, base, profile)
        for shape in shapes:
            if shape not in CONSTRAINED and profile.mode is not None:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                profile.verdicts.append(Verdict(shape, "timeout", f"not tried: the probe's {budget:.0f} s were spent"))
                continue
            profile.verdicts.append(_try_shape(http, base, model, shape, min(timeout, left)))
    return profile


def _try_shape(http: httpx.Client, base: str, model: str, shape: str, timeout: float) -> Verdict:
    started = time.monotonic()
    try:
        response = _post_with_deadline(http, f"{base}/chat/completions", probe_body(model, shape), timeout)
    except httpx.TimeoutException:
        return Verdict(shape, "timeout", f"no answer in {timeout:.0f} s", round(time.monotonic() - started, 2))
    except httpx.HTTPError as exc:
        return Verdict(shape, "error", f"{exc.__class__.__name__}: {exc}"[:200], round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    if response.status_code >= 400:
        return Verdict(shape, "rejected", f"HTTP {response.status_code}: {_message(response)}", seconds)
    try:
        answer = probe_answer(response.json())
    except ValueError:
        return Verdict(shape, "unconstrained", "the reply is not JSON", seconds)
    if answer == PROBE_INSTANCE:
        return Verdict(shape, "constrained", "the schema's only instance came back", seconds)
    return Verdict(shape, "unconstrained", f"HTTP 200 but the schema was not enforced (got {_short(answer)})", seconds)


def _post_with_deadline(http: httpx.Client, url: str, body: dict[str, Any], timeout: float) -> httpx.Response:
    """POST with ``timeout`` seconds in all: a server that trickles bytes cannot hold it longer."""
    with http.stream("POST", url, json=body) as response:
        content = read_within(response, timeout)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def _server_facts(http: httpx.Client, base: str, profile: EndpointProfile) -> None:
    """What the server says about itself: llama.cpp's ``/props`` (slots, context), the owner in
    ``/v1/models`` (``me`` is llama-cpp-python, one request at a time; ``vllm``), Ollama's version."""
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    props = _get_json(http, f"{root}/props")
    if isinstance(props, dict) and isinstance(props.get("total_slots"), int):
        profile.server, profile.slots = "llama.cpp llama-server", props["total_slots"]
        settings = props.get("default_generation_settings")
        if isinstance(settings, dict) and isinstance(settings.get("n_ctx"), int):
            profile.context = settings["n_ctx"]
        return
    models = _get_json(http, f"{base}/models")
    owners = {m.get("owned_by") for m in (models or {}).get("data", []) if isinstance(m, dict)}
    if "me" in owners:
        profile.server, profile.slots = "llama-cpp-python", 1
    elif "vllm" in owners:
        profile.server = "vLLM"
    elif isinstance(_get_json(http, f"{root}/api/version"), dict):
        profile.server = "Ollama"


def _get_json(http: httpx.Client, url: str) -> Any:
    try:
        response = http.get(url, timeout=5.0)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
        error = data.get("error", data) if isinstance(data, dict) else data
        text = error.get("message", error) if isinstance(error, dict) else error
    except ValueError:
        text = response.text
    return _short(text, 120)


def _short(value: Any, n: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


class EndpointUnreachable(Exception):
    """No probe got an HTTP answer: the server is down or unreachable, which says nothing about
    its dialect. Nothing is remembered; the backend fails each paper with this reason."""


def resolve_mode(
    mode: str, base_url: str, model: str, api_key: str | None, cache_dir: str | Path, timeout: float
) -> tuple[str, EndpointProfile | None]:
    """The concrete mode for ``mode`` (``auto`` or one of ``SHAPES``) and the endpoint's profile.

    ``auto`` on api.openai.com is ``tools`` (documented, no probe). Elsewhere the remembered
    profile of this endpoint and model is used, or the endpoint is probed once and remembered.
    A server that constrains no shape is a ``ConfigError`` naming what each shape did.
    """
    if mode != "auto":
        if mode not in SHAPES:
            raise ConfigError(f"unknown mode {mode!r}: use auto or one of {', '.join(SHAPES)}")
        return mode, None
    if is_openai(base_url):
        return "tools", None
    memory = EndpointMemory(cache_dir)
    profile = memory.get(base_url, model)
    if profile is None or profile.mode is None:
        profile = probe_endpoint(base_url, model, api_key, timeout=min(timeout, 30.0))
        if all(v.status in ("error", "timeout") for v in profile.verdicts):
            why = profile.verdicts[0].detail if profile.verdicts else "no answer"
            raise EndpointUnreachable(
                f"--mode auto could not reach {strip_url_credentials(base_url)} to probe it: {why}"
            )
        if profile.mode is not None:
            memory.put(profile)
    if profile.mode is None:
        tried = "; ".join(f"{v.shape}: {v.status} ({v.detail})" for v in profile.verdicts)
        raise ConfigError(
            f"--mode auto: {strip_url_credentials(base_url)} constrained no structured-output shape for "
            f"{model} ({tried}); run `paper-agent check` for details, or pass --mode json_object"
        )
    return profile.mode, profile

"""``check_endpoint``: a one-minute diagnosis of an OpenAI-compatible endpoint before a big run.

A first run against a new server fails in ways that look alike (a key, a model name, a mode the
server does not support, a proxy page), so this asks each question separately, on three seed
papers, through the same backend a run uses: is the server reachable, is the key accepted, is
the model listed, and which of tool calling, JSON-schema and plain JSON mode give valid answers.
It measures latency per call and tokens per paper, prices 1,000 papers from the price table and
recommends ``--mode`` and a ``--concurrency`` that stays inside the rate limits the server
announces (``x-ratelimit-*`` headers). Nothing is cached: a diagnosis must reach the endpoint.
The API key never appears in the report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agent.backends.base import CONTENT_RULE
from agent.backends.dialects import COMPACT_PROMPT, EndpointMemory, EndpointProfile
from agent.backends.quirks import describe_body
from agent.check_report import (
    MODES,
    CheckReport,
    ModeResult,
    Step,
    diagnose,
    recommend,
)
from agent.errors import ConfigError
from agent.schema import Paper, PaperResult
from agent.settings import Settings
from agent.taxonomy import Taxonomy, load_taxonomy

SEED_PAPERS = 3
# "A one-minute diagnosis": a server that takes requests and never answers must not hold the
# check for 3 x 2 tries x PAPER_AGENT_TIMEOUT (184 s measured). Each call waits at most
# CALL_TIMEOUT, and the whole check stops after CHECK_BUDGET (modes not reached say so).
CALL_TIMEOUT = 15.0
CHECK_BUDGET = 60.0
LOCAL_CALL_TIMEOUT = 40.0  # a local server that says how many requests it serves: a slow model, a queue
LOCAL_BUDGET = 120.0  # ... and the whole check with it
RATE_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
)

# ---------------------------------------------------------------------------- diagnosis


def check_endpoint(
    base_url: str | None = None,
    model: str | None = None,
    mode: str | None = None,
    *,
    api_key: str | None = None,
    prices_file: str | Path | None = None,
    taxonomy: Taxonomy | str | Path | None = None,
    papers: list[Paper] | None = None,
    settings: Settings | None = None,
) -> CheckReport:
    """Diagnose an endpoint: reachability, key, model, each mode on three seed papers, cost, limits.

    Arguments override ``settings`` (default: the environment / ``.env``). ``mode`` checks one
    mode only. Raises ``ConfigError`` for an unknown mode; everything the endpoint does wrong
    is reported, not raised.
    """
    cfg = Settings.load(
        settings, base_url=base_url, model=model, api_key=api_key, prices_file=prices_file, backend="openai"
    )
    if mode is not None and mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
    return asyncio.run(_check(cfg, tax, [mode] if mode else None, papers or seed_papers()))


def seed_papers(n: int = SEED_PAPERS) -> list[Paper]:
    """The first ``n`` papers of the shipped seed dataset."""
    from agent.evaluate.dataset import load_dataset
    from agent.evaluate.runner import default_dataset

    items = load_dataset(default_dataset())[:n]
    return [
        Paper(
            id=i.id, title=i.title, abstract=i.abstract, authors=i.authors, url=i.url, digest_summary=i.digest_summary
        )
        for i in items
    ]


async def _check(cfg: Settings, taxonomy: Taxonomy, modes: list[str] | None, papers: list[Paper]) -> CheckReport:
    from agent.backends.openai import OpenAIBackend
    from agent.redaction import redact

    secret = cfg.api_key.get_secret_value() if cfg.api_key else None
    probe = OpenAIBackend(cfg, taxonomy)  # for the public URL and the price only
    report = CheckReport(base_url=probe.public_base_url, model=cfg.model)
    if not cfg.base_url and not secret:
        report.steps.append(
            Step(
                "endpoint",
                False,
                "no endpoint configured",
                "pass --base-url or set OPENAI_BASE_URL (OPENAI_API_KEY for api.openai.com)",
            )
        )
        return report
    headers: dict[str, str] = {}
    deadline = time.monotonic() + CHECK_BUDGET
    reachable = await _models_step(report, probe.base_url, secret, cfg, headers)
    if reachable and modes is None:
        modes = await _dialect_step(report, probe.base_url, secret, cfg, deadline - time.monotonic())
    cfg, call_timeout = _as_a_run_would(cfg, report.profile)
    if call_timeout == LOCAL_CALL_TIMEOUT:
        deadline += LOCAL_BUDGET - CHECK_BUDGET
    if reachable:
        for m in modes or []:
            # the mode auto picks runs as auto runs it (the remembered profile: evidence choices, prompt)
            via_auto = report.profile is not None and report.profile.mode == m
            result = await _bounded_mode_step(cfg, taxonomy, m, papers, headers, deadline, call_timeout, via_auto)
            result.problem = redact(result.problem, secret) if result.problem else None
            report.modes.append(result)
            report.steps.append(result.step())
    recommend(report, probe.price, headers)
    for step in report.steps:
        step.detail = redact(step.detail, secret)
    return report


def _as_a_run_would(cfg: Settings, profile: EndpointProfile | None) -> tuple[Settings, float]:
    """The seed run set up as ``--mode auto`` sets up a run on this server (its slots in flight,
    the compact prompt for a small context), and how long one call may take: a local server
    that names its slots runs a slow model, so it gets longer than a hosted API."""
    if profile is None or not profile.slots:
        return cfg, CALL_TIMEOUT
    update: dict[str, Any] = {"concurrency": profile.slots}
    if profile.small_context and "prompt_version" not in cfg.model_fields_set:
        update["prompt_version"] = COMPACT_PROMPT
    return cfg.model_copy(update=update), LOCAL_CALL_TIMEOUT


async def _dialect_step(report: CheckReport, base: str, secret: str | None, cfg: Settings, budget: float) -> list[str]:
    """Probe which request shapes the server constrains (seconds, not a seed run per mode),
    remember the answer for ``--mode auto``, and return the modes worth a seed run: the best
    constrained one, or plain JSON mode when none is."""
    from agent.backends.probe import probe_endpoint

    timeout = min(cfg.timeout, CALL_TIMEOUT)
    profile = await asyncio.to_thread(probe_endpoint, base, cfg.model, secret, timeout=timeout, budget=budget)
    report.profile = profile
    for v in profile.verdicts:
        # a shape the server does not constrain is no failure while another one works
        ok = True if v.status == "constrained" else (None if profile.mode else False)
        report.steps.append(Step(f"shape {v.shape}", ok, f"{v.status}: {v.detail} ({v.seconds:.1f} s)"))
    if profile.server:
        slots = f", {profile.slots} parallel slot(s)" if profile.slots else ""
        context = f", {profile.context_per_request} tokens of context per request" if profile.context else ""
        report.steps.append(Step("server", True, f"{profile.server}{slots}{context}"))
    if profile.mode is None:
        return ["json_object"]
    EndpointMemory(cfg.cache_dir).put(profile)
    return [profile.mode]


async def _models_step(
    report: CheckReport, base: str, secret: str | None, cfg: Settings, headers: dict[str, str]
) -> bool:
    """GET /models: reachable? key accepted? model listed? False when nothing else can work."""
    import httpx

    auth = {"Authorization": f"Bearer {secret}"} if secret else {}
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=min(cfg.timeout, CALL_TIMEOUT)) as client:
            response = await client.get(f"{base}/models", headers=auth)
    except httpx.TimeoutException:
        report.steps.append(
            Step(
                "reachable",
                False,
                f"no answer from {report.base_url} within {min(cfg.timeout, CALL_TIMEOUT):g} s",
                "is the server running and the address right? check --base-url",
            )
        )
        return False
    except httpx.HTTPError as exc:
        report.steps.append(
            Step(
                "reachable",
                False,
                f"cannot connect to {report.base_url} ({exc.__class__.__name__})",
                "start the server or fix --base-url / OPENAI_BASE_URL",
            )
        )
        return False
    ms = (time.perf_counter() - started) * 1000
    _collect(response.headers, headers)
    report.steps.append(Step("reachable", True, f"GET /models answered {response.status_code} in {ms:.0f} ms"))
    if response.status_code in (401, 403):
        fix = "set OPENAI_API_KEY (or PAPER_AGENT_API_KEY) to a valid key" if secret else "set OPENAI_API_KEY"
        what = "key rejected" if secret else "the endpoint needs a key and none is set"
        report.steps.append(Step("key", False, f"{response.status_code}: {what}", fix))
        return False
    return _model_listed_step(report, response, secret, cfg.model)


def _model_listed_step(report: CheckReport, response: Any, secret: str | None, model: str) -> bool:
    """The key and model steps from a /models answer that was not a 401/403: is ``model`` listed?
    A server without a model list is not a failure (the chat calls will tell), hence True."""
    names = _model_names(response)
    if response.status_code >= 400 or names is None:
        what = (
            f"GET /models answered {response.status_code}"
            if response.status_code >= 400
            else (f"GET /models answered {describe_body(response.text)}")
        )
        report.steps.append(Step("key", None, "not confirmed (no model list to read)"))
        report.steps.append(Step("model", None, f"{what}; the chat calls below tell whether {model!r} works"))
        return True
    report.steps.append(Step("key", True, "accepted" if secret else "none sent; the endpoint answers without one"))
    if model in names:
        report.steps.append(Step("model", True, f"{model!r} is listed"))
    else:
        shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
        report.steps.append(
            Step(
                "model",
                False,
                f"{model!r} is not listed (the server lists: {shown or 'nothing'})",
                "pass --model with a listed name",
            )
        )
    return True


def _model_names(response: Any) -> list[str] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]


async def _bounded_mode_step(
    cfg: Settings,
    taxonomy: Taxonomy,
    mode: str,
    papers: list[Paper],
    headers: dict[str, str],
    deadline: float,
    call_timeout: float = CALL_TIMEOUT,
    via_auto: bool = False,
) -> ModeResult:
    """``_mode_step`` within what is left of the check's budget; out of time is a failed mode."""
    left = deadline - time.monotonic()
    fix = "is the server up and answering? a single call may take up to"
    if left < 1.0:
        problem = f"not tried: the check's {CHECK_BUDGET:g} s were spent on the modes above — {fix} {call_timeout:g} s"
        return ModeResult(mode=mode, papers=len(papers), valid=0, calls=0, problem=problem)
    try:
        step = _mode_step(cfg, taxonomy, mode, papers, headers, call_timeout, via_auto)
        return await asyncio.wait_for(step, left)
    except TimeoutError:
        problem = f"no valid answer before the check's {CHECK_BUDGET:g} s ran out — {fix} {call_timeout:g} s"
        return ModeResult(mode=mode, papers=len(papers), valid=0, calls=0, problem=problem)


async def _mode_step(
    cfg: Settings,
    taxonomy: Taxonomy,
    mode: str,
    papers: list[Paper],
    headers: dict[str, str],
    call_timeout: float = CALL_TIMEOUT,
    via_auto: bool = False,
) -> ModeResult:
    """The seed papers through the real backend in ``mode`` (``via_auto``: as ``--mode auto``
    sends it, from the profile just remembered), uncached, all in flight at once."""
    from agent.backends.openai import OpenAIBackend
    from agent.pipeline import Agent

    settings = cfg.model_copy(
        update={
            "mode": "auto" if via_auto else mode,
            "concurrency": max(1, min(len(papers), cfg.concurrency)),  # a local server's slots, see _check
            "timeout": min(cfg.timeout, call_timeout),
            "retry_attempts": 2,
            "retry_max_wait": 2.0,
            "retry_total": call_timeout,
        }
    )
    backend = OpenAIBackend(settings, taxonomy, on_response=[_header_recorder(headers)])
    agent = Agent(backend=backend, settings=settings, taxonomy=taxonomy, cache=False)
    try:
        results: list[PaperResult] = list(await asyncio.gather(*(agent.aanalyze(p) for p in papers)))
    finally:
        await backend.aclose()
        agent.close()
    ok = [r for r in results if r.status == "ok"]
    broke = [r for r in results if r.status == "invalid" and (r.error or "").startswith(CONTENT_RULE)]
    shaped = ok + broke
    result = ModeResult(
        mode=mode,
        papers=len(results),
        valid=len(ok),
        broke_rule=len(broke),
        calls=sum(r.usage.attempts for r in results),
        call_ms=[r.usage.latency_ms / r.usage.attempts for r in results if r.usage.attempts],
        prompt_tokens=sum(r.usage.prompt_tokens for r in shaped),
        completion_tokens=sum(r.usage.completion_tokens for r in shaped),
    )
    failed = next((r for r in results if r.status != "ok"), None)
    if failed is not None:
        result.problem = diagnose(mode, failed)
    return result


def _header_recorder(sink: dict[str, str]) -> Callable[[Any], Awaitable[None]]:
    """A response hook for the backend that records rate-limit headers of every chat reply, so
    the calls measured are exactly those a run makes (``OpenAIBackend(on_response=...)``)."""

    async def hook(response: Any) -> None:
        _collect(response.headers, sink)

    return hook


def _collect(headers: Any, sink: dict[str, str]) -> None:
    for name in RATE_HEADERS:
        value = headers.get(name)
        if value is not None:
            sink[name] = str(value)

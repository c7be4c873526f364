"""OpenAIBackend against a mocked endpoint: requests, replies, retries, re-asks, costs."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time

import httpx
import openai
import pytest
from instructor.core import InstructorRetryException
from llm_fakes import (
    BASE_URL,
    EchoModel,
    FakeSleep,
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    abstract_of,
    anyio_backend,  # noqa: F401
    body_of,
    error_response,
    json_body,
    make_agent,
    make_paper,
    ok_response,
    reply_args,
    system_of,
    tool_body,
    user_of,
)

from agent.backends.failures import is_transient, retry_after_seconds
from agent.backends.limiter import AdaptiveLimiter
from agent.taxonomy import load_taxonomy

PAPER = make_paper(1)
EVIDENCE = "a retrieval-augmented generation pipeline"


# --------------------------------------------------------------------------- 1. normal replies


def test_tools_mode_reply_is_ok_with_mocked_labels_and_usage(api, tmp_path):
    route = api.post("/chat/completions").mock(
        return_value=ok_response(reply_args(EVIDENCE, primary="rag", secondary=["generative_rec"]), usage=(123, 45))
    )
    r = make_agent(tmp_path, cache=False).analyze(PAPER)
    body = body_of(route.calls.last.request)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "PaperTriage"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["PaperTriage"]
    assert "response_format" not in body
    assert (r.status, r.primary, r.secondary, r.evidence) == ("ok", "rag", ["generative_rec"], EVIDENCE)
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (123, 45, 168)
    assert r.usage.attempts == 1 and r.backend == "openai" and r.model == "gpt-4o-mini"


def test_json_mode_sends_a_json_schema_response_format(api, tmp_path):
    route = api.post("/chat/completions").mock(
        return_value=ok_response(reply_args(EVIDENCE, primary="rl_rec"), mode="json")
    )
    r = make_agent(tmp_path, cache=False, mode="json").analyze(PAPER)
    body = body_of(route.calls.last.request)
    assert "tools" not in body and "tool_choice" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"]
    assert (r.status, r.primary, r.usage.prompt_tokens) == ("ok", "rl_rec", 100)


def test_json_mode_reply_after_a_think_block_parses_without_a_reask(api, tmp_path):
    content = "<think>\nThe abstract is about RL.\n</think>\n" + json.dumps(reply_args(EVIDENCE, primary="rl_rec"))
    route = api.post("/chat/completions").mock(return_value=httpx.Response(200, json=json_body(content)))
    r = make_agent(tmp_path, cache=False, mode="json").analyze(PAPER)
    assert (r.status, r.primary, route.call_count) == ("ok", "rl_rec", 1)


def test_reply_without_usage_is_ok_with_zero_tokens(api, tmp_path):
    api.post("/chat/completions").mock(return_value=ok_response(reply_args(EVIDENCE), usage=None))
    r = make_agent(tmp_path, cache=False).analyze(PAPER)
    assert r.status == "ok"
    assert (r.usage.total_tokens, r.usage.attempts) == (0, 1)


# --------------------------------------------------------------------------- 2. the request


def test_system_prompt_has_every_label_description_and_the_injection_warning(api, tmp_path):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path, cache=False).analyze(PAPER)
    system = system_of(route.calls.last.request)
    taxonomy = load_taxonomy()
    for label in taxonomy.labels:
        assert f"`{label.name}`: {label.description}" in system
    assert "never instructions" in system and "disregard it" in system


def test_a_huge_abstract_is_cut_at_a_sentence_to_the_documented_cap(api, tmp_path):
    sentence = "We propose a retriever for retrieval-augmented generation and evaluate it. "
    huge = make_paper(3, abstract=sentence * 15_000)  # 1.1 MB: 275,040 prompt tokens if sent whole
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    result = make_agent(tmp_path, cache=False).analyze(huge)
    sent = abstract_of(route.calls.last.request)
    assert result.status == "ok"
    assert sent.endswith("evaluate it. [... abstract cut at 8,000 characters]")
    assert len(sent) <= 8_000 + len(" [... abstract cut at 8,000 characters]")
    assert len(sent) > 7_000 and huge.abstract.startswith(sent.split(" [...")[0])


def test_user_message_fences_the_abstract_and_includes_the_digest_summary(api, tmp_path):
    paper = make_paper(2, digest_summary="提出一种检索增强生成方法。")
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path, cache=False).analyze(paper)
    user = user_of(route.calls.last.request)
    assert abstract_of(route.calls.last.request) == paper.abstract
    assert f"<title>{paper.title}</title>" in user
    assert "<digest_summary>\n提出一种检索增强生成方法。\n</digest_summary>" in user


def test_user_message_has_no_digest_block_without_a_summary(api, tmp_path):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path, cache=False).analyze(make_paper(3))
    assert "digest_summary" not in user_of(route.calls.last.request)


def test_model_temperature_and_max_tokens_are_sent_as_configured(api, tmp_path):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path, cache=False, model="gpt-4.1-nano", temperature=0.3, max_tokens=321).analyze(PAPER)
    body = body_of(route.calls.last.request)
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-4.1-nano", 0.3, 321)
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-TESTKEY-abcdefghijklmnop"


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_schema_primary_is_an_enum_of_exactly_the_taxonomy_labels(api, tmp_path, mode):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path, cache=False, mode=mode).analyze(PAPER)
    body = body_of(route.calls.last.request)
    schema = (
        body["tools"][0]["function"]["parameters"]
        if mode == "tools"
        else body["response_format"]["json_schema"]["schema"]
    )
    names = load_taxonomy().names
    assert schema["properties"]["primary"]["enum"] == names
    assert schema["properties"]["secondary"]["items"]["enum"] == names


def test_bad_request_is_one_call_and_never_retried(api, tmp_path):
    route = api.post("/chat/completions").mock(return_value=error_response(400, "max_tokens is too large"))
    sleep = FakeSleep()
    r = make_agent(tmp_path, cache=False, sleep=sleep, retry_attempts=5).analyze(PAPER)
    assert route.call_count == 1 and sleep.calls == []
    assert r.status == "error" and r.primary is None
    assert "BadRequestError" in r.error and "max_tokens is too large" in r.error


def test_sdk_retries_are_off_one_attempt_means_one_call(api, tmp_path):
    route = api.post("/chat/completions").mock(return_value=error_response(500))
    r = make_agent(tmp_path, cache=False, retry_attempts=1).analyze(PAPER)
    assert route.call_count == 1 and r.status == "error"


# --------------------------------------------------------------------------- 3. 429


def test_429_with_retry_after_is_honoured_then_succeeds(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[error_response(429, "slow down", headers={"Retry-After": "7"}), ok_response(reply_args(EVIDENCE))]
    )
    sleep = FakeSleep()
    agent = make_agent(tmp_path, cache=False, sleep=sleep)
    r = agent.analyze(PAPER)
    assert r.status == "ok" and route.call_count == 2
    assert sleep.calls == [7.0]
    assert r.usage.attempts == 2
    assert agent.backend.limiter.limit < agent.settings.concurrency  # AIMD cut once on the 429


def test_retry_after_longer_than_max_wait_is_capped(api, tmp_path):
    api.post("/chat/completions").mock(
        side_effect=[error_response(429, headers={"Retry-After": "3600"}), ok_response(reply_args(EVIDENCE))]
    )
    sleep = FakeSleep()
    assert make_agent(tmp_path, cache=False, sleep=sleep, retry_max_wait=30).analyze(PAPER).status == "ok"
    assert sleep.calls == [30.0]


def test_429_insufficient_quota_is_not_retried(api, tmp_path):
    route = api.post("/chat/completions").mock(
        return_value=error_response(429, "You exceeded your current quota", code="insufficient_quota")
    )
    sleep = FakeSleep()
    r = make_agent(tmp_path, cache=False, sleep=sleep, retry_attempts=5).analyze(PAPER)
    assert route.call_count == 1 and sleep.calls == []
    assert r.status == "error" and "quota" in r.error


# --------------------------------------------------------------------------- 4. 5xx


def test_500_until_retries_run_out_is_an_error_with_the_last_message(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[
            error_response(500, "first boom"),
            error_response(502, "second boom"),
            error_response(503, "last boom"),
        ]
    )
    sleep = FakeSleep()
    r = make_agent(tmp_path, cache=False, sleep=sleep, retry_attempts=3).analyze(PAPER)
    assert route.call_count == 3 and len(sleep.calls) == 2
    assert r.status == "error" and "last boom" in r.error and "first boom" not in r.error
    assert r.usage.attempts == 3


def test_one_failing_paper_does_not_affect_the_others_and_order_is_kept(api, tmp_path):
    papers = [make_paper(i) for i in (1, 2, 3)]
    bad = papers[1].abstract
    model = EchoModel(override=lambda req: error_response(500, "bad paper") if abstract_of(req) == bad else None)
    route = api.post("/chat/completions").mock(side_effect=model)
    results = list(make_agent(tmp_path, cache=False, retry_attempts=3).analyze_many(papers))
    assert [r.id for r in results] == [p.id for p in papers]
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert route.call_count == 1 + 3 + 1


def test_results_come_back_in_input_order_when_replies_arrive_out_of_order(api, tmp_path):
    import asyncio

    papers = [make_paper(i) for i in range(1, 6)]
    echo = EchoModel()

    async def late_first(request):  # the first paper answers last
        if abstract_of(request) == papers[0].abstract:
            await asyncio.sleep(0.05)
        return echo(request)

    api.post("/chat/completions").mock(side_effect=late_first)
    results = list(make_agent(tmp_path, cache=False).analyze_many(papers))
    assert [r.id for r in results] == [p.id for p in papers]
    assert abstract_of(echo.requests[-1]) == papers[0].abstract


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_requests_need_none_of_the_sdks_parameter_transform(api, tmp_path, mode):
    # Calls go through client.post, skipping create()'s TypedDict walk; that walk must
    # still be a no-op on what we send (re-asks included), or the skip would change requests.
    import asyncio as aio

    from openai._utils._transform import async_maybe_transform
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    bad = tool_body(reply_args(EVIDENCE, primary="bogus")) if mode == "tools" else json_body("not json")
    route = api.post("/chat/completions").mock(
        side_effect=[httpx.Response(200, json=bad), ok_response(reply_args(EVIDENCE), mode=mode)]
    )
    assert make_agent(tmp_path, cache=False, mode=mode).analyze(PAPER).status == "ok"
    bodies = [body_of(call.request) for call in route.calls]
    assert len(bodies) == 2 and len(bodies[1]["messages"]) > len(bodies[0]["messages"])  # a re-ask
    for body in bodies:
        assert aio.run(async_maybe_transform(body, CompletionCreateParamsNonStreaming)) == body


def test_one_agent_runs_two_batches(api, tmp_path):
    # Each analyze_many runs in its own event loop; the limiter must not keep the first one's.
    api.post("/chat/completions").mock(side_effect=EchoModel())
    agent = make_agent(tmp_path, cache=False, concurrency=1)  # 1: calls wait for a slot
    first = list(agent.analyze_many([make_paper(i) for i in range(1, 4)]))
    second = list(agent.analyze_many([make_paper(i) for i in range(4, 7)]))
    assert [r.status for r in first + second] == ["ok"] * 6


# --------------------------------------------------------------------------- 5. timeouts, connection


def test_timeout_then_success_is_ok(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[httpx.ReadTimeout("read timed out"), ok_response(reply_args(EVIDENCE))]
    )
    r = make_agent(tmp_path, cache=False).analyze(PAPER)
    assert r.status == "ok" and route.call_count == 2 and r.usage.attempts == 2


def test_connection_error_then_success_is_ok(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[httpx.ConnectError("connection refused"), ok_response(reply_args(EVIDENCE))]
    )
    r = make_agent(tmp_path, cache=False).analyze(PAPER)
    assert r.status == "ok" and route.call_count == 2


def test_timeouts_until_retries_run_out_is_an_error(api, tmp_path):
    route = api.post("/chat/completions").mock(side_effect=httpx.ReadTimeout("read timed out"))
    r = make_agent(tmp_path, cache=False, retry_attempts=2).analyze(PAPER)
    assert route.call_count == 2
    assert r.status == "error" and "APITimeoutError" in r.error


# --------------------------------------------------------------------------- 6. re-asks


def test_malformed_tool_arguments_are_re_asked_and_usage_is_summed(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=tool_body('{"primary": "rag", "confidence": 0.9, "evid', usage=(100, 7))),
            ok_response(reply_args(EVIDENCE), usage=(180, 20)),
        ]
    )
    r = make_agent(tmp_path, cache=False, max_retries=2).analyze(PAPER)
    assert r.status == "ok" and route.call_count == 2
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.attempts) == (280, 27, 2)
    # the re-ask carries the first answer and the error back to the model
    assert len(body_of(route.calls.last.request)["messages"]) > len(body_of(route.calls[0].request)["messages"])


def test_re_ask_after_a_validation_error_then_ok(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[ok_response(reply_args("words that are not there")), ok_response(reply_args(EVIDENCE))]
    )
    r = make_agent(tmp_path, cache=False, max_retries=1).analyze(PAPER)
    assert r.status == "ok" and r.evidence == EVIDENCE and route.call_count == 2
    assert "does not occur in the abstract" in str(body_of(route.calls.last.request)["messages"])


# --------------------------------------------------------------------------- 7. invalid output


@pytest.mark.parametrize("max_retries, calls", [(2, 2), (1, 2), (0, 1)])
def test_evidence_not_in_abstract_is_invalid_after_the_re_ask_repeats_it(api, tmp_path, max_retries, calls):
    # A re-ask that breaks the same rule again (other words, same failure) ends the paper:
    # a third call would not change the answer (agent/backends/reasks.py).
    route = api.post("/chat/completions").mock(
        side_effect=[
            ok_response(reply_args("a quantum computing breakthrough")),
            ok_response(reply_args("a teleportation device")),
            ok_response(reply_args(EVIDENCE)),
        ]
    )
    r = make_agent(tmp_path, cache=False, max_retries=max_retries).analyze(PAPER)
    assert r.status == "invalid" and r.primary is None
    assert "evidence" in r.error and "does not occur in the abstract" in r.error
    assert route.call_count == calls and r.usage.attempts == calls


def test_a_re_ask_that_fails_a_different_rule_is_followed_by_the_next(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[
            ok_response(reply_args("a quantum computing breakthrough")),
            ok_response(reply_args(EVIDENCE, tldr="本文提出一种检索增强生成方法。")),
            ok_response(reply_args(EVIDENCE)),
        ]
    )
    r = make_agent(tmp_path, cache=False, max_retries=2).analyze(PAPER)
    assert r.status == "ok" and route.call_count == 3 and r.usage.attempts == 3


def test_chinese_tldr_is_invalid_and_names_the_tldr_field(api, tmp_path):
    route = api.post("/chat/completions").mock(
        return_value=ok_response(reply_args(EVIDENCE, tldr="本文提出一种检索增强生成方法。"))
    )
    r = make_agent(tmp_path, cache=False, max_retries=1).analyze(PAPER)
    assert r.status == "invalid" and "tldr" in r.error and "English" in r.error
    assert route.call_count == 2


def test_sixty_word_tldr_is_invalid(api, tmp_path):
    route = api.post("/chat/completions").mock(
        return_value=ok_response(reply_args(EVIDENCE, tldr=" ".join(["word"] * 60)))
    )
    r = make_agent(tmp_path, cache=False, max_retries=0).analyze(PAPER)
    assert r.status == "invalid" and "tldr has 60 words" in r.error
    assert route.call_count == 1


def test_fifty_word_tldr_is_accepted(api, tmp_path):
    api.post("/chat/completions").mock(
        return_value=ok_response(reply_args(EVIDENCE, tldr=" ".join(f"term{i}" for i in range(50))))
    )
    assert make_agent(tmp_path, cache=False, max_retries=0).analyze(PAPER).status == "ok"


def test_secondary_repeating_the_primary_is_cleaned_not_failed(api, tmp_path):
    args = reply_args(EVIDENCE, primary="rag", secondary=["rag", "rl_rec", "rl_rec", "debiasing"])
    route = api.post("/chat/completions").mock(return_value=ok_response(args))
    r = make_agent(tmp_path, cache=False, max_retries=0).analyze(PAPER)
    assert r.status == "ok" and route.call_count == 1
    assert (r.primary, r.secondary) == ("rag", ["rl_rec", "debiasing"])


def test_truncated_reply_is_invalid_without_a_re_ask(api, tmp_path):
    body = tool_body('{"primary": "rag", "confi')
    body["choices"][0]["finish_reason"] = "length"
    route = api.post("/chat/completions").mock(return_value=httpx.Response(200, json=body))
    r = make_agent(tmp_path, cache=False, max_retries=2, max_tokens=64).analyze(PAPER)
    assert r.status == "invalid" and "max_tokens=64" in r.error
    assert route.call_count == 1


# --------------------------------------------------------------------------- 11. cost


def test_cost_counts_every_attempt_at_the_table_price(api, tmp_path):
    api.post("/chat/completions").mock(
        side_effect=[
            ok_response(reply_args("not in the abstract"), usage=(1000, 200)),
            ok_response(reply_args(EVIDENCE), usage=(1000, 200)),
        ]
    )
    r = make_agent(tmp_path, cache=False, model="gpt-4o-mini").analyze(PAPER)
    assert r.usage.attempts == 2
    # gpt-4o-mini: 0.15 USD / Mtok in, 0.60 USD / Mtok out
    assert r.usage.cost_usd == pytest.approx((2000 * 0.15 + 400 * 0.60) / 1e6, rel=1e-9)


def test_failed_paper_still_reports_what_its_attempts_cost(api, tmp_path):
    api.post("/chat/completions").mock(return_value=ok_response(reply_args("nowhere"), usage=(1000, 100)))
    r = make_agent(tmp_path, cache=False, max_retries=1).analyze(PAPER)
    assert r.status == "invalid"
    assert r.usage.prompt_tokens == 2000
    assert r.usage.cost_usd == pytest.approx((2000 * 0.15 + 200 * 0.60) / 1e6, rel=1e-9)


def test_unpriced_model_has_tokens_and_no_cost(api, tmp_path):
    api.post("/chat/completions").mock(return_value=ok_response(reply_args(EVIDENCE), usage=(500, 50)))
    r = make_agent(tmp_path, cache=False, model="llama3:8b").analyze(PAPER)
    assert r.status == "ok" and r.usage.total_tokens == 550
    assert r.usage.cost_usd is None


def test_user_price_file_overrides_the_built_in_table(api, tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\n[models."llama3:8b"]\ninput = 0\noutput = 0\n'
    )
    api.post("/chat/completions").mock(return_value=ok_response(reply_args(EVIDENCE), usage=(1_000_000, 500_000)))
    assert make_agent(tmp_path, cache=False, prices_file=prices).analyze(PAPER).usage.cost_usd == pytest.approx(2.0)
    assert make_agent(tmp_path, cache=False, prices_file=prices, model="llama3:8b").analyze(PAPER).usage.cost_usd == 0.0


def test_provider_prefixed_model_name_finds_its_price(api, tmp_path):
    api.post("/chat/completions").mock(return_value=ok_response(reply_args(EVIDENCE), usage=(1_000_000, 0)))
    r = make_agent(tmp_path, cache=False, model="openai/gpt-4o-mini").analyze(PAPER)
    assert r.usage.cost_usd == pytest.approx(0.15)


# --------------------------------------------------------------------------- 13. units


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _round(lim: AdaptiveLimiter, outcomes: list[bool]) -> None:
    """``len(outcomes)`` calls in flight at once through ``lim``; True means the call got a 429."""
    gate = asyncio.Event()

    async def call(limited: bool) -> None:
        async with lim:
            await gate.wait()
            lim.rate_limited() if limited else lim.succeeded()

    tasks = [asyncio.create_task(call(limited)) for limited in outcomes]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)


@pytest.mark.anyio
async def test_limiter_keeps_its_concurrency_under_a_steady_fifth_of_429s():
    # issue 8 item 13: the old limiter halved on every 429 and ended at 2-3 of 32.
    clock, rng = FakeClock(), random.Random(0)
    lim = AdaptiveLimiter(32, clock=clock)
    lowest = lim.limit
    for _ in range(60):  # one round of `limit` calls per simulated second
        await _round(lim, [rng.random() < 0.2 for _ in range(lim.limit)])
        lowest = min(lowest, lim.limit)
        clock.now += 1.0
    assert lowest >= 20 and lim.limit >= 24


@pytest.mark.anyio
async def test_limiter_cuts_once_for_a_burst_of_429s():
    lim = AdaptiveLimiter(20, clock=FakeClock())
    await _round(lim, [True] * 20)
    assert lim.limit == 16  # one decrease by a fifth, not twenty halvings


@pytest.mark.anyio
async def test_limiter_ignores_429s_from_calls_started_before_the_last_cut():
    clock = FakeClock()
    lim = AdaptiveLimiter(10, clock=clock, cooldown=0)
    gate = asyncio.Event()

    async def old_call() -> None:
        async with lim:
            await gate.wait()
            lim.rate_limited()

    late = asyncio.create_task(old_call())
    await _round(lim, [True])  # 10 -> 8
    clock.now += 100
    gate.set()
    await late  # ran under the old limit: no second cut
    assert lim.limit == 8


@pytest.mark.anyio
async def test_limiter_decreases_at_most_once_per_cooldown_and_never_below_the_floor():
    clock = FakeClock()
    lim = AdaptiveLimiter(16, floor=4, clock=clock, cooldown=5)
    seen = []
    for _ in range(12):
        await _round(lim, [True])
        seen.append(lim.limit)
        clock.now += 2.5  # a cut every second round
    assert seen == [12, 12, 9, 9, 7, 7, 5, 5, 4, 4, 4, 4]


@pytest.mark.anyio
async def test_limiter_grows_by_one_per_window_of_successes_despite_429s_between():
    clock = FakeClock()
    lim = AdaptiveLimiter(8, clock=clock)
    await _round(lim, [True])  # 8 -> 6
    history = []
    for i in range(14):
        await _round(lim, [i % 3 == 0])  # every third call a 429 inside the cool-down
        history.append(lim.limit)
    # 9 successes in 14 calls: 6 at limit 6 -> 7, then 3 of the 7 needed
    assert history[-1] == 7 and max(history) == 7


@pytest.mark.anyio
async def test_limiter_caps_calls_in_flight():
    import anyio

    lim = AdaptiveLimiter(2)
    peak = 0

    async def work():
        nonlocal peak
        async with lim:
            peak = max(peak, lim.in_flight)
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(work)
    assert peak == 2 and lim.in_flight == 0


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", f"{BASE_URL}/chat/completions"))


def _status_error(cls, status, headers=None, body=None):
    return cls("err", response=_response(status, headers), body=body)


_REQ = httpx.Request("POST", f"{BASE_URL}/chat/completions")


@pytest.mark.parametrize(
    "exc, transient",
    [
        (_status_error(openai.RateLimitError, 429), True),
        (_status_error(openai.InternalServerError, 500), True),
        (_status_error(openai.InternalServerError, 503), True),
        (openai.APITimeoutError(request=_REQ), True),
        (openai.APIConnectionError(request=_REQ), True),
        (_status_error(openai.AuthenticationError, 401), False),
        (_status_error(openai.BadRequestError, 400), False),
        (_status_error(openai.NotFoundError, 404), False),
        (_status_error(openai.PermissionDeniedError, 403), False),
        (_status_error(openai.UnprocessableEntityError, 422), False),
        (_status_error(openai.RateLimitError, 429, body={"code": "insufficient_quota"}), False),
        (ValueError("not an API error"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_is_transient_classification(exc, transient):
    assert is_transient(exc) is transient


def test_is_transient_looks_through_an_instructor_wrapper():
    wrapped = InstructorRetryException("wrapped", n_attempts=1, total_usage=0)
    wrapped.__cause__ = _status_error(openai.RateLimitError, 429)
    assert is_transient(wrapped) is True


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "-3"}, 0.0),
        ({}, None),
    ],
)
def test_retry_after_seconds_parses_headers(headers, expected):
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429, headers)) == expected


def test_retry_after_seconds_parses_an_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(_status_error(openai.RateLimitError, 429, {"retry-after": when}))
    assert seconds is not None and 27 <= seconds <= 31


def test_retry_after_seconds_in_the_past_is_zero():
    past = email.utils.formatdate(time.time() - 600, usegmt=True)
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429, {"retry-after": past})) == 0.0


def test_retry_after_seconds_ignores_an_unparseable_header():
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429, {"retry-after": "soon"})) is None


def test_429_with_an_unparseable_retry_after_still_backs_off_and_succeeds(api, tmp_path):
    route = api.post("/chat/completions").mock(
        side_effect=[error_response(429, headers={"Retry-After": "soon"}), ok_response(reply_args(EVIDENCE))]
    )
    r = make_agent(tmp_path, cache=False).analyze(PAPER)
    assert (r.status, route.call_count) == ("ok", 2)


def test_retry_after_seconds_without_a_response_is_none():
    assert retry_after_seconds(openai.APIConnectionError(request=_REQ)) is None

"""The result cache in front of the LLM backend: hits make no HTTP call, and every component
of the key (model, endpoint, prompt, taxonomy, generation settings, mode, the paper) misses."""

from __future__ import annotations

import asyncio
import shutil

import anyio
import diskcache
import pytest
import respx
from llm_fakes import (
    BASE_URL,
    REPO,
    EchoModel,
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    abstract_of,
    anyio_backend,  # noqa: F401
    error_response,
    make_agent,
    make_paper,
    write_papers,
)

from agent.prompts import load_prompt
from agent.taxonomy import load_taxonomy
from agent.triage import triage

PAPERS = [make_paper(i) for i in (1, 2, 3)]


@pytest.fixture
def api():
    # No base_url: the endpoint itself is one of the components under test.
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def route(api):
    return api.post(url__regex=r"^http://fake\d*/v1/chat/completions$").mock(side_effect=EchoModel())


def test_second_run_makes_zero_calls_and_reports_cached(route, tmp_path):
    first = list(make_agent(tmp_path).analyze_many(PAPERS))
    assert route.call_count == 3 and not any(r.cached for r in first)
    second = list(make_agent(tmp_path).analyze_many(PAPERS))
    assert route.call_count == 3
    assert all(r.cached for r in second)
    assert [r.model_dump(exclude={"cached", "usage"}) for r in second] == [
        r.model_dump(exclude={"cached", "usage"}) for r in first
    ]


def test_only_ok_results_are_cached(api, tmp_path):
    bad = PAPERS[1].abstract
    model = EchoModel(override=lambda req: error_response(400, "nope") if abstract_of(req) == bad else None)
    route = api.post(f"{BASE_URL}/chat/completions").mock(side_effect=model)
    assert [r.status for r in make_agent(tmp_path).analyze_many(PAPERS)] == ["ok", "error", "ok"]
    second = list(make_agent(tmp_path).analyze_many(PAPERS))
    assert route.call_count == 3 + 1  # only the error paper is asked again
    assert [(r.status, r.cached) for r in second] == [("ok", True), ("error", False), ("ok", True)]


def test_invalid_results_are_not_cached(api, tmp_path):
    route = api.post(f"{BASE_URL}/chat/completions").mock(side_effect=EchoModel(tldr="中文摘要"))
    agent = make_agent(tmp_path, max_retries=0)
    assert agent.analyze(PAPERS[0]).status == "invalid"
    assert agent.cache is not None and len(agent.cache) == 0
    make_agent(tmp_path, max_retries=0).analyze(PAPERS[0])
    assert route.call_count == 2


def test_refresh_recomputes_and_overwrites(api, tmp_path):
    route = api.post(f"{BASE_URL}/chat/completions").mock(side_effect=EchoModel(primary="rag"))
    make_agent(tmp_path).analyze(PAPERS[0])
    route.mock(side_effect=EchoModel(primary="debiasing"))
    refreshed = make_agent(tmp_path, refresh=True).analyze(PAPERS[0])
    assert route.call_count == 2
    assert (refreshed.primary, refreshed.cached) == ("debiasing", False)
    again = make_agent(tmp_path).analyze(PAPERS[0])
    assert route.call_count == 2
    assert (again.primary, again.cached) == ("debiasing", True)


def test_no_cache_makes_calls_every_time_and_writes_nothing(route, tmp_path):
    for _ in range(2):
        results = list(make_agent(tmp_path, cache=False).analyze_many(PAPERS))
        assert not any(r.cached for r in results)
    assert route.call_count == 6
    assert make_agent(tmp_path).cache is not None and len(make_agent(tmp_path).cache) == 0


def test_cache_hit_keeps_the_id_of_the_paper_asked_for(route, tmp_path):
    make_agent(tmp_path).analyze(PAPERS[0])
    repost = PAPERS[0].model_copy(update={"id": "2601.99999", "url": "https://arxiv.org/abs/2601.99999"})
    hit = make_agent(tmp_path).analyze(repost)
    assert route.call_count == 1 and hit.cached
    assert (hit.id, hit.url) == ("2601.99999", "https://arxiv.org/abs/2601.99999")


# --------------------------------------------------------------------------- key components


def _modified_prompt_dir(tmp_path):
    d = tmp_path / "prompts-copy"
    d.mkdir()
    for part in ("system", "user"):
        shutil.copy(REPO / "prompts" / f"triage-v1.{part}.txt", d / f"triage-v1.{part}.txt")
    system = d / "triage-v1.system.txt"
    system.write_text(system.read_text(encoding="utf-8") + "\nBe concise.\n", encoding="utf-8")
    return d


def _modified_taxonomy(tmp_path):
    text = (REPO / "prompts" / "taxonomy.toml").read_text(encoding="utf-8")
    changed = text.replace(
        'description = "Retrieval-augmented generation:', 'description = "RAG, retrieval-augmented generation:', 1
    )
    assert changed != text
    path = tmp_path / "taxonomy-copy.toml"
    path.write_text(changed, encoding="utf-8")
    return load_taxonomy(path)


VARIANTS = {
    "model": (lambda tmp: {"model": "gpt-4.1-mini"}, {"model"}),
    "base_url": (lambda tmp: {"base_url": "http://fake2/v1"}, {"base_url"}),
    "temperature": (lambda tmp: {"temperature": 0.7}, {"temperature"}),
    "max_tokens": (lambda tmp: {"max_tokens": 700}, {"max_tokens"}),
    "mode": (lambda tmp: {"mode": "json"}, {"mode"}),
    "prompt": (
        lambda tmp: {"prompt": load_prompt(load_taxonomy(), "triage-v1", directory=_modified_prompt_dir(tmp))},
        {"prompt"},
    ),
    "taxonomy": (lambda tmp: {"taxonomy": _modified_taxonomy(tmp)}, {"taxonomy"}),
}


def _differing(a: dict, b: dict) -> set[str]:
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


@pytest.mark.parametrize("component", sorted(VARIANTS))
def test_changing_a_key_component_misses_the_cache(route, tmp_path, component):
    make_overrides, expected = VARIANTS[component]
    paper = PAPERS[0]
    base = make_agent(tmp_path)
    base.analyze(paper)
    other = make_agent(tmp_path, **make_overrides(tmp_path))
    assert other.cache_key(paper) != base.cache_key(paper)
    assert _differing(base.explain(paper)["components"], other.explain(paper)["components"]) == expected
    assert other.explain(paper)["cached"] is False
    result = other.analyze(paper)
    assert route.call_count == 2
    assert (result.status, result.cached) == ("ok", False)


def test_a_changed_abstract_misses_the_cache(route, tmp_path):
    agent = make_agent(tmp_path)
    paper = PAPERS[0]
    agent.analyze(paper)
    edited = paper.model_copy(update={"abstract": paper.abstract + " Code is released."})
    assert agent.cache_key(edited) != agent.cache_key(paper)
    assert _differing(agent.explain(paper)["components"], agent.explain(edited)["components"]) == {"paper.abstract"}
    assert agent.analyze(edited).cached is False
    assert route.call_count == 2


def test_same_settings_in_a_new_agent_give_the_same_key(route, tmp_path):
    paper = PAPERS[0]
    a, b = make_agent(tmp_path), make_agent(tmp_path, api_key="sk-another-key-0000000")
    assert a.cache_key(paper) == b.cache_key(paper)  # the API key is not part of the answer
    a.analyze(paper)
    assert b.explain(paper)["cached"] is True


def test_corrupt_cache_entry_is_a_miss_that_recomputes(route, tmp_path):
    paper = PAPERS[0]
    agent = make_agent(tmp_path)
    agent.analyze(paper)
    key = agent.cache_key(paper)
    agent.close()
    with diskcache.Cache(str(tmp_path / "cache")) as raw:
        raw.set(key, "not json")
    again = make_agent(tmp_path)
    result = again.analyze(paper)
    assert (result.status, result.cached) == ("ok", False)
    assert route.call_count == 2
    assert make_agent(tmp_path).analyze(paper).cached is True  # the bad entry was overwritten


def test_cache_entry_with_wrong_shape_is_a_miss(route, tmp_path):
    paper = PAPERS[0]
    agent = make_agent(tmp_path)
    agent.analyze(paper)
    with diskcache.Cache(str(tmp_path / "cache")) as raw:
        raw.set(agent.cache_key(paper), '{"v": 1, "result": {"id": 5}}')
    assert make_agent(tmp_path).analyze(paper).cached is False
    assert route.call_count == 2


# --------------------------------------------------------------------------- costs and hits


def test_cache_hits_cost_nothing_in_run_stats(route, tmp_path):
    inputs = [write_papers(tmp_path / "papers.jsonl", PAPERS)]
    first = triage(inputs, make_agent(tmp_path), output=tmp_path / "a.jsonl")
    assert (first.new, first.cached, first.prompt_tokens) == (3, 0, 300)
    assert first.cost_usd == pytest.approx(3 * (100 * 0.15 + 10 * 0.60) / 1e6, rel=1e-9)
    second = triage(inputs, make_agent(tmp_path), output=tmp_path / "b.jsonl")
    assert route.call_count == 3
    assert (second.new, second.cached, second.cost_usd, second.prompt_tokens) == (0, 3, 0.0, 0)
    assert second.statuses["ok"] == 3 and second.labels == {"rag": 3}


def test_unpriced_model_is_counted_as_unpriced(route, tmp_path):
    inputs = [write_papers(tmp_path / "papers.jsonl", PAPERS)]
    stats = triage(inputs, make_agent(tmp_path, model="llama3:8b"), output=tmp_path / "a.jsonl")
    assert (stats.prompt_tokens, stats.cost_usd, stats.unpriced) == (300, 0.0, 3)


# --------------------------------------------------------------------------- cancellation


@pytest.mark.anyio
async def test_cancelled_stream_keeps_finished_results_in_the_cache(api, tmp_path):
    papers = [make_paper(i) for i in range(1, 7)]
    slow = {p.abstract for p in papers[3:]}
    never = asyncio.Event()
    echo = EchoModel()
    started = []

    async def answer(request):
        started.append(request)
        if abstract_of(request) in slow:
            await never.wait()
        return echo(request)

    route = api.post(f"{BASE_URL}/chat/completions").mock(side_effect=answer)
    agent = make_agent(tmp_path)
    stream = agent.aanalyze_many(papers)
    with anyio.fail_after(5):
        got = [await stream.__anext__() for _ in range(3)]
        await stream.aclose()
        await agent.backend.aclose()
    assert [r.id for r in got] == [p.id for p in papers[:3]]
    assert len(echo.requests) == 3  # the slow ones were cancelled, never answered
    agent.close()

    calls = route.call_count
    fresh = make_agent(tmp_path)
    hits = [fresh.explain(p)["cached"] for p in papers]
    assert hits == [True, True, True, False, False, False]
    again = [await fresh.aanalyze(p) for p in papers[:3]]
    assert all(r.cached for r in again) and route.call_count == calls


def test_abandoning_the_sync_stream_keeps_finished_results(api, tmp_path):
    papers = [make_paper(i) for i in range(1, 7)]
    slow = {p.abstract for p in papers[3:]}
    echo = EchoModel()

    async def answer(request):
        if abstract_of(request) in slow:
            await asyncio.sleep(3600)
        return echo(request)

    api.post(f"{BASE_URL}/chat/completions").mock(side_effect=answer)
    stream = make_agent(tmp_path).analyze_many(papers)
    got = [next(stream) for _ in range(3)]
    stream.close()  # runs the generator's cleanup: in-flight calls are cancelled, not awaited
    assert [r.status for r in got] == ["ok"] * 3
    fresh = make_agent(tmp_path)
    assert [fresh.explain(p)["cached"] for p in papers] == [True] * 3 + [False] * 3

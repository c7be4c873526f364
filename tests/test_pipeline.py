"""The pipeline around any backend (the shared FakeBackend): the skip rule, the cache and its
re-stamping, failures recorded as statuses, and input order kept."""

from __future__ import annotations

import pytest
from fakes import FakeBackend, answer

from agent import Agent, Paper
from agent.backends.base import CallFailed, InvalidOutput


def paper(i: int, abstract: str = "We propose a dense retriever for RAG.", **kw: object) -> Paper:
    return Paper(id=f"2501.{i:05d}", title=f"Paper {i}", abstract=abstract, **kw)  # type: ignore[arg-type]


def test_a_paper_without_abstract_is_skipped_with_its_place_and_never_sent(tmp_path):
    fake = FakeBackend()
    with Agent(backend=fake, cache_dir=tmp_path) as agent:
        result = agent.analyze(paper(1, abstract="  ", source_file="d.md", source_line=7))
    assert (result.status, result.error) == ("skipped", "no abstract (d.md:7)")
    assert fake.calls == []


def test_a_cached_answer_is_reused_and_restamped_for_a_repost_under_another_id(tmp_path):
    fake = FakeBackend(answer("rag", "Retrieval for RAG."))
    with Agent(backend=fake, cache_dir=tmp_path) as agent:
        first = agent.analyze(paper(1))
        again = agent.analyze(Paper(id="2501.99999", title="Paper 1", abstract=paper(1).abstract, url="u"))
    assert fake.calls == ["2501.00001"]
    assert (first.cached, again.cached) == (False, True)
    assert (again.id, again.url, again.primary) == ("2501.99999", "u", "rag")


@pytest.mark.parametrize("failure, status", [(InvalidOutput("bad json"), "invalid"), (CallFailed("down"), "error")])
def test_a_backend_failure_is_recorded_as_its_status_and_not_cached(tmp_path, failure, status):
    fake = FakeBackend(failure)
    with Agent(backend=fake, cache_dir=tmp_path) as agent:
        results = [agent.analyze(paper(1)), agent.analyze(paper(1))]
    assert [(r.status, r.error) for r in results] == [(status, str(failure))] * 2
    assert fake.calls == ["2501.00001"] * 2  # a failure is asked again next time


def test_analyze_many_keeps_input_order(tmp_path):
    fake = FakeBackend(lambda p: answer("other", f"About {p.title}."))
    with Agent(backend=fake, cache=False) as agent:
        results = list(agent.analyze_many([paper(i) for i in range(20)]))
    assert [r.id for r in results] == [paper(i).id for i in range(20)]
    assert results[3].tldr == "About Paper 3."

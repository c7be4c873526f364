"""TL;DR scores that catch useless summaries: distinct, restates the title, dangling references,
stands alone; and a run that answers one generic sentence for every paper is flagged in the report."""

from __future__ import annotations

import json

import pytest
from fakes import FakeBackend, answer

from agent import Agent
from agent.evaluate.runner import run_eval
from agent.evaluate.scorers import (
    cut_enumeration,
    dangling_references,
    opens_with_dangling_reference,
    restates_title,
    stands_alone,
)

GENERIC = "This paper proposes a novel method and shows that it outperforms strong baselines."


@pytest.mark.parametrize(
    "tldr, refs",
    [
        ("We propose UniGRec, a unified framework that addresses them from three perspectives.", ["addresses them"]),
        (
            "We propose Retrieval-GRPO, a dense retrieval framework designed to address these challenges.",
            ["these challenges"],
        ),
        ("These methods improve recall.", ["These"]),
        ("It outperforms BM25.", ["It"]),
        ("This paper proposes X for RAG.", []),
        ("Two challenges hurt RAG: noise and cost; X addresses these challenges with a filter.", []),
    ],
)
def test_dangling_references_are_found_unless_the_tldr_names_the_referent(tldr: str, refs: list[str]) -> None:
    assert dangling_references(tldr) == refs
    assert stands_alone(tldr) is (refs == [])


def test_only_a_pronoun_or_demonstrative_opening_counts_as_a_dangling_opening() -> None:
    assert opens_with_dangling_reference("Such models fail on long queries.")
    assert not opens_with_dangling_reference("This work studies popularity bias.")
    assert not opens_with_dangling_reference("Theseus is a retriever.")


def test_an_enumeration_cut_short_or_a_cut_off_sentence_does_not_stand_alone() -> None:
    abstract = "We propose X, which combines (i) a router, (ii) a decoder, and (iii) a loss."
    short = "We propose X, which combines (i) a router, (ii) a decoder."
    assert cut_enumeration(short, abstract) and not stands_alone(short, abstract)
    full = "We propose X, which combines (i) a router, (ii) a decoder and (iii) a loss."
    assert not cut_enumeration(full, abstract) and stands_alone(full, abstract)
    assert not stands_alone("We propose X, which combines a router and…", abstract)
    assert not stands_alone("", abstract)


def test_restating_the_title_is_told_apart_from_a_summary() -> None:
    title = "UniGRec: Unified Generative Recommendation with Soft Identifiers"
    assert restates_title("We propose UniGRec, a unified generative recommendation framework.", title)
    assert not restates_title(
        "UniGRec trains the tokenizer and recommender jointly via soft item identifiers and beats "
        "state-of-the-art baselines on three datasets.",
        title,
    )
    assert not restates_title("", title)


def test_a_backend_that_returns_one_generic_sentence_for_every_paper_is_flagged(tmp_path) -> None:
    fake = FakeBackend(lambda p: answer("rag", GENERIC))
    with Agent(backend=fake, cache=False) as agent:
        report, paths = run_eval(agent, "seeds", tmp_path)
    t = report.tldr
    # The old checks cannot tell: the sentence is English, short and grounded.
    assert (t.english_share, t.within_50_share, t.grounded_share) == (1.0, 1.0, 1.0)
    assert t.distinct_share == pytest.approx(1 / report.n)
    assert t.mean_rouge_l is not None and t.mean_rouge_l < 0.2
    md = paths["markdown"].read_text(encoding="utf-8")
    html = paths["html"].read_text(encoding="utf-8")
    warning = f"Only 1 distinct TL;DRs for {report.n} papers"
    assert warning in md and warning in html
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["tldr"]["distinct_share"] == t.distinct_share


def test_a_run_with_a_different_tldr_per_paper_is_not_flagged(tmp_path) -> None:
    fake = FakeBackend(lambda p: answer("rag", f"We study {p.title}, with results on two datasets."))
    with Agent(backend=fake, cache=False) as agent:
        report, paths = run_eval(agent, "seeds", tmp_path)
    assert report.tldr.distinct_share == 1.0
    assert "distinct TL;DRs for" not in paths["markdown"].read_text(encoding="utf-8")

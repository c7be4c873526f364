"""The quirks corpus (tests/quirks/cases.py) replayed through respx against the real backend.

Each case's reply is what every call of the paper gets back, so a case that is re-asked sees
the same quirk again (a model that keeps doing it). The outcome must be the one the corpus
states: ok with the normalised labels, or invalid/error with a reason naming what came back.
Never a crash, never a label outside the taxonomy, never the API key in a reason.
"""

from __future__ import annotations

import re

import httpx
import pytest
from llm_fakes import (
    API_KEY,
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    make_agent,
    make_paper,
)
from quirks.cases import CASES, Quirk

from agent.backends.quirks import ReplyNormaliser, label_key
from agent.taxonomy import load_taxonomy

PAPER = make_paper(1)
LABELS = load_taxonomy().names
SOURCE_RE = re.compile(r"[\w.-]+/[\w.-]+(#\d+| \S+)|https://\S+")


def _response(case: Quirk) -> httpx.Response:
    headers = {"content-type": case.content_type}
    if isinstance(case.body, str):
        return httpx.Response(case.status, text=case.body, headers=headers)
    return httpx.Response(case.status, json=case.body)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_quirk_gives_the_stated_outcome(api, tmp_path, case: Quirk) -> None:
    route = api.post("/chat/completions").mock(side_effect=lambda request: _response(case))
    r = make_agent(tmp_path, cache=False, mode=case.mode).analyze(PAPER)
    assert r.status == case.expect, (r.status, r.error)
    if case.expect == "ok":
        assert (r.primary, tuple(r.secondary)) == (case.primary, case.secondary)
        if case.confidence is not None:
            assert r.confidence == pytest.approx(case.confidence)
        assert r.error is None
    else:
        assert r.primary is None and r.error
        for words in case.reason:
            assert words in r.error, (words, r.error)
        assert "\n" not in r.error and API_KEY not in r.error and "Traceback" not in r.error
    if case.calls is not None:
        assert route.call_count == case.calls


def test_every_case_names_its_source_and_the_corpus_covers_the_issue_list() -> None:
    for case in CASES:
        assert SOURCE_RE.search(case.source), case.name
    names = {c.name for c in CASES}
    assert len(names) == len(CASES)
    required = {
        "fenced_json",
        "prose_before_and_after",
        "think_block_before_json",
        "think_unclosed",
        "label_upper_case",
        "label_words_with_space",
        "label_with_hyphen",
        "label_short_hyphen",
        "confidence_as_string",
        "confidence_as_percentage",
        "confidence_above_one",
        "secondary_as_string",
        "extra_unknown_fields",
        "schema_echoed_back",
        "two_different_tool_calls",
        "tool_call_with_another_name",
        "tool_call_as_hermes_text",
        "finish_length_truncated_json",
        "refusal_field",
        "empty_content",
        "non_json_200_text_plain",
        "html_502_from_proxy",
        "error_object_with_status_200",
    }
    assert required <= names, required - names
    assert {c.mode for c in CASES} == {"tools", "json", "json_object"}


@pytest.mark.parametrize(
    "spelling, label",
    [
        ("RAG", "rag"),
        ("Generative Rec", "generative_rec"),
        ("generative-rec", "generative_rec"),
        ("rl-rec", "rl_rec"),
        ("  `Debiasing` ", "debiasing"),
        ("RL_REC", "rl_rec"),
    ],
)
def test_label_spellings_map_to_the_taxonomy_name(spelling: str, label: str) -> None:
    assert ReplyNormaliser(LABELS).label(spelling) == label


@pytest.mark.parametrize("spelling", ["retrieval", "RAG pipeline", "generativerec", "", "ra g"])
def test_a_spelling_that_is_not_a_label_is_left_for_validation_to_reject(spelling: str) -> None:
    assert ReplyNormaliser(LABELS).label(spelling) == spelling


@pytest.mark.parametrize(
    "value, expected",
    [
        ("85%", 0.85),
        ("100 %", 1.0),
        ("0.85", 0.85),
        (" 1 ", 1.0),
        ("nan", "nan"),
        (0.85, 0.85),
        (85, 85),
        ("150%", "150%"),
        ("high", "high"),
    ],
)
def test_confidence_maps_only_percent_strings(value, expected) -> None:
    assert ReplyNormaliser.confidence(value) == expected


def test_label_keys_of_the_default_taxonomy_are_distinct() -> None:
    # Otherwise the mapping could not be unambiguous.
    assert len({label_key(n) for n in LABELS}) == len(LABELS)


def test_json_object_mode_sends_plain_json_mode_with_the_schema_in_the_system_prompt(api, tmp_path) -> None:
    from llm_fakes import EchoModel, body_of, system_of

    route = api.post("/chat/completions").mock(side_effect=EchoModel(primary="debiasing"))
    r = make_agent(tmp_path, cache=False, mode="json_object").analyze(PAPER)
    body = body_of(route.calls.last.request)
    assert body["response_format"] == {"type": "json_object"} and "tools" not in body
    assert '"primary"' in system_of(route.calls.last.request)
    assert (r.status, r.primary) == ("ok", "debiasing")

"""The reply contract's helpers for small models: evidence choices the grammar picks from, the
TL;DR a grammar cut off, raw whitespace, and the re-ask policy's notion of "the same failure"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from agent.backends.contract import (
    SCHEMA_EVIDENCE_CHARS,
    SCHEMA_TLDR_CHARS,
    check_evidence,
    check_tldr,
    evidence_choices,
)
from agent.backends.dialects import shaped, with_evidence_choices
from agent.backends.reasks import failure_signature

DEV = Path(__file__).parents[1] / "evals" / "dev.jsonl"


def test_evidence_choices_are_verbatim_bounded_phrases_of_every_dev_abstract() -> None:
    abstracts = [json.loads(line)["abstract"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    assert len(abstracts) > 100
    for abstract in abstracts:
        choices = evidence_choices(abstract)
        assert 1 <= len(choices) <= 24, abstract[:80]
        for choice in choices:
            assert len(choice) <= SCHEMA_EVIDENCE_CHARS and len(choice.split()) >= 3
            assert '"' not in choice and "\\" not in choice
            check_evidence(choice, abstract)  # the validator accepts every choice


def test_a_long_sentence_is_cut_where_a_clause_ends_and_an_empty_abstract_has_no_choices() -> None:
    long = "We propose a retriever, " + ", ".join(f"which handles case number {i} well" for i in range(12)) + "."
    choices = evidence_choices(long)
    assert "We propose a retriever" in choices
    assert all(len(c) <= SCHEMA_EVIDENCE_CHARS for c in choices)
    assert evidence_choices("") == []


def test_evidence_choices_reach_the_schema_in_every_constrained_shape() -> None:
    schema = {"type": "object", "properties": {"evidence": {"type": "string", "maxLength": 160}}}
    bodies = {
        "json": {"response_format": {"type": "json_schema", "json_schema": {"name": "T", "schema": schema}}},
        "tools": {"tools": [{"type": "function", "function": {"name": "T", "parameters": schema}}]},
    }
    for mode, body in bodies.items():
        sent = json.dumps(shaped(body, mode, ["a b c"]))
        assert '"enum": ["a b c"]' in sent, mode
    llama = shaped(bodies["json"], "json_object_schema", ["a b c"])
    assert llama["response_format"]["type"] == "json_object"
    assert llama["response_format"]["schema"]["properties"]["evidence"]["enum"] == ["a b c"]
    assert "enum" not in schema["properties"]["evidence"]  # the template is never changed
    assert with_evidence_choices({"messages": []}, ["a b c"]) == {"messages": []}  # json_object: no schema


def test_a_tldr_cut_at_the_schemas_max_length_is_re_asked_and_a_raw_newline_is_a_space() -> None:
    cut = " ".join(f"representation{i:02d}" for i in range(40))[:SCHEMA_TLDR_CHARS]
    with pytest.raises(ValueError, match="cut off at 400 characters"):
        check_tldr(cut)
    assert check_tldr(cut[: cut.rindex(" ")] + ".")  # as long, but a finished sentence
    assert check_tldr("Dense retrieval\nwith\tgraph reranking improves recall.") == (
        "Dense retrieval with graph reranking improves recall."
    )


class _Reply(BaseModel):
    evidence: str
    tldr: str

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: str) -> str:
        return check_evidence(v, "the abstract says this")

    @field_validator("tldr")
    @classmethod
    def _tldr(cls, v: str) -> str:
        return check_tldr(v)


def _error(**fields: str) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        _Reply(**{"evidence": "abstract says", "tldr": "Graph reranking improves dense retrieval.", **fields})
    return err.value


def test_the_same_rule_broken_with_other_words_is_the_same_failure_and_another_rule_is_not() -> None:
    first = failure_signature(_error(evidence="123456789"))
    again = failure_signature(_error(evidence="https://github.com/x/y"))
    other = failure_signature(_error(tldr="本文提出一种方法。"))
    assert first == again
    assert first != other
    assert failure_signature(json.JSONDecodeError("x", "{", 0)) == ("json",)

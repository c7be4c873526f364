"""The reply contract of the LLM backend: the pydantic model a reply must validate against.

Label fields are a ``Literal`` of exactly the taxonomy's labels; the TL;DR must be English,
free of ``<think>`` blocks and within the word and character limits of ``agent.schema``; the
evidence must be a phrase of the paper's abstract. A reply that breaks the contract is re-asked
by instructor with the validation error, so each message here says what to do instead.

Online calls and batch results files are validated by the same model (``OpenAIBackend``).
"""

from __future__ import annotations

import contextvars
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator

from agent.backends.base import CONTENT_RULE
from agent.backends.extractive import CLAUSE_RE, split_sentences
from agent.backends.quirks import ReplyNormaliser
from agent.schema import MAX_EVIDENCE_CHARS, MAX_TLDR_CHARS, MAX_TLDR_WORDS, has_cjk
from agent.taxonomy import Taxonomy
from agent.textcheck import is_generic, repetition, restates_title

THINK_RE = re.compile(r"</?think>", re.IGNORECASE)

# The abstract the evidence validator checks against. Passed this way, not as instructor's
# `context=`: with a context, instructor renders every message as a Jinja template, so paper
# text such as "{{ 7*7 }}" or LaTeX "{{\bf x}}" would be executed or break the request.
# The backend sets it around each paper's calls; unset (None), evidence is not checked against one.
abstract_for_evidence: contextvars.ContextVar[str | None] = contextvars.ContextVar("abstract", default=None)
# The title the TL;DR must say more than (set the same way; None skips that rule).
title_for_tldr: contextvars.ContextVar[str | None] = contextvars.ContextVar("title", default=None)


# What the reply schema asks for (maxLength, which grammar-constrained servers enforce): a
# 50-word TL;DR is about 350 characters and an evidence phrase is short. The validators accept
# up to MAX_TLDR_CHARS / MAX_EVIDENCE_CHARS; the schema asks for less, because a small model
# fills a string to its maxLength (measured on SmolLM2-135M with llama-cpp-python: runs of
# "#[]#[]..." until max_tokens).
SCHEMA_TLDR_CHARS = 400
SCHEMA_EVIDENCE_CHARS = 160


CONFIDENCE_STEPS: list[Any] = [round(i / 20, 2) for i in range(21)]
"""The confidences the reply schema offers (0.0, 0.05, ... 1.0), as an ``enum``: grammar-constrained
servers (llama.cpp, llama-cpp-python) enforce an enum but not a number's ``minimum``/``maximum``,
so a small model answered 10 or 100 (7 of 40 seed papers, SmolLM2-135M). Twenty-one steps are finer
than any calibration bin the eval reports (tenths)."""
MAX_EVIDENCE_CHOICES = 24
UNSAFE_RE = re.compile(r'["\\]')


def evidence_choices(abstract: str, limit: int = SCHEMA_EVIDENCE_CHARS, most: int = MAX_EVIDENCE_CHOICES) -> list[str]:
    """Verbatim pieces of ``abstract`` (sentences, long ones cut where a clause ends, each at most
    ``limit`` characters) for a grammar to choose the evidence from.

    Why: the evidence must be a phrase of the abstract, a rule no fixed schema can state. A small
    model on a grammar-constrained server filled the field with digits and URLs instead (36 of 40
    seed papers, SmolLM2-135M), so on such servers the schema lists the pieces as an ``enum``
    (``OpenAIBackend``), and every answer satisfies the rule by construction.
    """
    pieces: list[str] = []
    for _, sentence in split_sentences(abstract):
        parts = [sentence] if len(sentence) <= limit else CLAUSE_RE.split(sentence)
        # Cut at quotes and backslashes too: llama-cpp-python 0.3.36 writes an enum string with
        # an escaped quote into a grammar it cannot parse, and its server process dies.
        parts = [piece for part in parts for piece in UNSAFE_RE.split(part)]
        for part in parts:
            part = part.strip().rstrip(".;:,")
            if len(part) > limit:
                part = part[:limit].rsplit(" ", 1)[0].rstrip(".;:,")
            if len(part.split()) >= 3 and part not in pieces:
                pieces.append(part)
    return pieces[:most]


def reply_token_budget() -> int:
    """``max_tokens`` sized to the reply schema: the most tokens a reply the schema allows can
    take. Every string is bounded by ``maxLength`` (at worst one token a character: a small model
    repeating " ia" or digits) plus labels, confidence, keys and whitespace (96).

    Why the worst case and not a typical reply (~150 tokens): on a grammar-constrained server the
    grammar ends a runaway string at its ``maxLength``, and the reply is then a complete object
    whose repetition the validators name and re-ask; cut off by ``max_tokens`` first, it is a
    truncated reply with no re-ask (4 of 40 seed answers at 224 tokens on llama-server,
    SmolLM2-135M). A model that does not run away stops long before this limit.
    """
    return SCHEMA_TLDR_CHARS + SCHEMA_EVIDENCE_CHARS + 96


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def check_tldr(value: str, title: str | None = None) -> str:
    """The TL;DR, stripped, or ``ValueError`` saying which rule it breaks (the re-ask's message).

    Beyond language and length: no runaway repetition, not a restatement of ``title``, and not
    a sentence that would fit any paper (agent.textcheck) - what small models write.
    """
    v = " ".join(value.split())  # a raw newline or tab inside the string (llama-cpp-python's grammar allows them)
    if THINK_RE.search(v):
        raise ValueError("tldr contains a <think> block; give only the final TL;DR")
    if has_cjk(v):
        raise ValueError("tldr must be written in English; it contains CJK characters")
    n = len(v.split())
    if n > MAX_TLDR_WORDS:
        raise ValueError(f"tldr has {n} words; the limit is {MAX_TLDR_WORDS}")
    if n == 0:
        raise ValueError("tldr is empty")
    if len(v) > MAX_TLDR_CHARS:
        raise ValueError(f"tldr has {len(v)} characters; write at most {MAX_TLDR_CHARS} characters")
    repeated = repetition(v)
    if repeated is not None:
        raise ValueError(f"tldr repeats {repeated!r} over and over; write one or two plain sentences")
    if len(value) >= SCHEMA_TLDR_CHARS and not v.endswith((".", "!", "?", ")", '"')):
        # A grammar ends a string at its maxLength, mid-word: a complete reply, a cut TL;DR.
        raise ValueError(f"tldr was cut off at {len(value)} characters; write at most 50 words, ending the sentence")
    if title is not None and restates_title(v, title):
        raise ValueError("tldr only restates the title; say what the paper does and finds")
    if is_generic(v):
        raise ValueError("tldr is generic (it would fit any paper); name the method, task and finding")
    return v


def check_evidence(value: str, abstract: str | None) -> str:
    """The evidence phrase, stripped of quotes, or ``ValueError``; ``abstract`` None skips the
    "occurs in the abstract" rule (nothing to check against)."""
    v = value.strip().strip('"“”')
    if not v:
        raise ValueError("evidence is empty; copy a short phrase from the abstract")
    if len(v) > MAX_EVIDENCE_CHARS:
        raise ValueError(f"evidence has {len(v)} characters; copy a phrase of at most {MAX_EVIDENCE_CHARS}")
    if abstract is not None and _norm(v) not in _norm(abstract):
        raise ValueError(f"evidence {v[:80]!r} does not occur in the abstract; copy a phrase verbatim")
    return v


CONTENT_LOCS = [("tldr",), ("evidence",)]


def breaks_content_rule_only(exc: BaseException) -> bool:
    """True for a validation error raised only by the content rules of the TL;DR and evidence
    (``check_tldr``, ``check_evidence``): the reply had the schema's shape and broke a rule no
    schema states. False for JSON errors, missing fields, labels or bounds, an echoed schema."""
    if not isinstance(exc, ValidationError):
        return False
    errors = exc.errors()
    return bool(errors) and all(e["type"] == "value_error" and e["loc"][:1] in CONTENT_LOCS for e in errors)


def validation_failure(exc: BaseException) -> str:
    """How an ``invalid`` reason for ``exc`` starts, online and for a batch reply alike:
    ``CONTENT_RULE`` when the answer had the schema's shape, else "output failed validation"."""
    return CONTENT_RULE if breaks_content_rule_only(exc) else "output failed validation"


def _validators(taxonomy: Taxonomy) -> type[BaseModel]:
    """The validators of the reply model: label spellings normalised, TL;DR and evidence checked."""
    normaliser = ReplyNormaliser(taxonomy.names)

    class Validators(BaseModel):
        @model_validator(mode="before")
        @classmethod
        def _normalise(cls, data: Any) -> Any:
            # Unambiguous variants real servers send ("RAG", "85%", a string secondary),
            # mapped before validation; see agent/backends/quirks.py.
            return normaliser.fields(data)

        @field_validator("tldr", check_fields=False)
        @classmethod
        def _tldr(cls, v: str) -> str:
            return check_tldr(v, title_for_tldr.get())

        @field_validator("evidence", check_fields=False)
        @classmethod
        def _evidence(cls, v: str) -> str:
            return check_evidence(v, abstract_for_evidence.get())

        @model_validator(mode="after")
        def _secondary(self) -> Any:
            reply: Any = self  # the label fields are added by create_model below
            seen: list[str] = []
            for label in reply.secondary:
                if label != reply.primary and label not in seen:
                    seen.append(label)
            reply.secondary = seen
            return self

    return Validators


def build_response_model(taxonomy: Taxonomy) -> type[BaseModel]:
    """The reply schema: label fields are a ``Literal`` of exactly the taxonomy's labels."""
    Labels: Any = Literal[tuple(taxonomy.names)]  # a Literal of the taxonomy's labels, built at run time
    Validators = _validators(taxonomy)
    return create_model(
        "PaperTriage",
        __base__=Validators,
        __doc__="Method-type label, confidence, evidence and English TL;DR for one paper.",
        primary=(Labels, Field(description="The one label for the paper's main technical contribution")),
        secondary=(
            list[Labels],
            Field(
                default_factory=list,
                description="Other labels that clearly also apply; never the primary",
                json_schema_extra={"maxItems": max(1, len(taxonomy.names) - 1)},
            ),
        ),
        confidence=(
            float,
            Field(
                ge=0.0,
                le=1.0,
                description="Probability that primary is right",
                json_schema_extra={"enum": CONFIDENCE_STEPS},
            ),
        ),
        # maxLength bounds every string: grammar-constrained servers (llama.cpp, vLLM) enforce it,
        # so a small model cannot repeat itself inside a string until max_tokens.
        evidence=(
            str,
            Field(
                description="A short phrase copied verbatim from the abstract that supports primary",
                json_schema_extra={"maxLength": SCHEMA_EVIDENCE_CHARS},
            ),
        ),
        tldr=(
            str,
            Field(
                description="English TL;DR, one or two sentences, at most 50 words, only facts from the abstract",
                json_schema_extra={"maxLength": SCHEMA_TLDR_CHARS},
            ),
        ),
    )

"""The records that cross module boundaries: ``Paper`` in, ``PaperResult`` out.

``PaperResult`` is the contract for every output format and for the eval harness, so it is
flat, JSON-safe and documented field by field (the README mirrors these descriptions).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ok", "invalid", "error", "skipped"]
STATUSES: tuple[str, ...] = ("ok", "invalid", "error", "skipped")

MAX_TLDR_WORDS = 50
# Words are not enough: an abstract with no spaces (a 1 MB token) is one "word". These bound
# every TL;DR and evidence phrase in characters too, whatever the backend.
MAX_TLDR_CHARS = 600
MAX_EVIDENCE_CHARS = 300
# The "written in English" rule for a TL;DR, shared by the LLM reply validator (which re-asks)
# and the eval scorer (which counts): Chinese, Japanese and Korean scripts, and the full-width
# forms (\uff00-\uffef: full-width Latin letters and punctuation such as "，"), which a model
# writing from a Chinese digest slips in and an English reader should not get.
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a character of a CJK script or a full-width form (``CJK_RE``)."""
    return CJK_RE.search(text) is not None


class Paper(BaseModel):
    """One paper as read from a digest, a JSONL file or an Atom feed."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="arXiv id without version suffix, e.g. 2510.12815")
    title: str = Field(description="Title, whitespace-normalised")
    authors: list[str] = Field(default_factory=list, description="Author names in order")
    abstract: str = Field(default="", description="Full abstract, whitespace-normalised")
    url: str = Field(default="", description="arXiv abs URL")
    categories: list[str] = Field(default_factory=list, description="arXiv categories if given")
    digest_summary: str | None = Field(
        default=None, description="The digest's own TL;DR (may be Chinese); never a placeholder"
    )
    announce_type: str | None = Field(
        default=None, description="How arXiv's daily feed announced it: new, cross, replace, replace-cross"
    )
    source_file: str | None = Field(default=None, description="File the paper was read from")
    source_line: int | None = Field(default=None, description="1-based line where it starts")
    source_format: str | None = Field(default=None, description="Detected input format")


class Usage(BaseModel):
    """What one paper cost: summed over every attempt, re-asks included."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    attempts: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = Field(default=None, description="None when the model has no price in the price table")


class PaperResult(BaseModel):
    """The triage of one paper. Every output row and every eval input is one of these."""

    id: str = Field(description="arXiv id without version")
    title: str
    authors: list[str] = Field(default_factory=list)
    url: str = ""
    primary: str | None = Field(default=None, description="One taxonomy label; None unless ok")
    secondary: list[str] = Field(default_factory=list, description="Other labels, never primary")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    tldr: str = Field(default="", description="English, at most 50 words")
    evidence: str = Field(default="", description="Phrase from the abstract supporting the label")
    status: Status = "ok"
    error: str | None = Field(default=None, description="Why the status is not ok")
    backend: str = ""
    model: str = ""
    prompt_version: str = ""
    taxonomy: str = Field(default="", description="Taxonomy name and content hash")
    cached: bool = False
    usage: Usage = Field(default_factory=Usage)

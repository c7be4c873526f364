"""Eval inputs: the hand-labelled dataset and a saved run's results, both JSONL.

Both are files people write or keep, so reading them is strict and every failure is a
``DatasetError`` naming ``file:line`` and the problem: a typo in a label file should stop an
eval with a one-line message, not produce a quietly wrong accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.errors import DatasetError
from agent.jsonl import read_jsonl
from agent.schema import Paper
from agent.taxonomy import Taxonomy


class DatasetItem(BaseModel):
    """One hand-labelled paper: the paper itself plus its gold labels and reference TL;DR."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="arXiv id without version; results are matched on it")
    title: str = Field(description="Paper title")
    abstract: str = Field(description="Full abstract; TL;DR grounding is checked against it")
    authors: list[str] = Field(default_factory=list, description="Author names in order")
    url: str = Field(default="", description="arXiv abs URL")
    digest_summary: str | None = Field(default=None, description="The digest's own TL;DR, if any")
    primary: str = Field(min_length=1, description="Gold primary label (one taxonomy label)")
    secondary: list[str] = Field(default_factory=list, description="Gold secondary labels, never the primary")
    reference_tldr: str = Field(default="", description="Hand-written English TL;DR for ROUGE-L")
    notes: str = Field(default="", description="Why the label was chosen; not scored")
    selection: str = Field(
        default="",
        description="How `paper-agent label` picked the paper (uncertain:rank 3, random:seed 7 #12); not scored",
    )

    @model_validator(mode="after")
    def _secondary_excludes_primary(self) -> DatasetItem:
        if self.primary in self.secondary:
            raise ValueError(f"secondary repeats the primary label {self.primary!r}")
        return self


def load_dataset(path: str | Path) -> list[DatasetItem]:
    """Read a labelled dataset (one JSON object per line). Duplicate ids are an error."""
    items: list[DatasetItem] = []
    seen: dict[str, int] = {}
    for lineno, item in read_jsonl(path, DatasetItem, "dataset"):
        if item.id in seen:
            raise DatasetError(f"{path}:{lineno}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: dataset has no records")
    return items


def check_labels(items: Iterable[DatasetItem], taxonomy: Taxonomy, origin: str = "dataset") -> None:
    """Fail if any gold label is not in ``taxonomy``: a label typo would otherwise score as 0 F1."""
    known = set(taxonomy.names)
    unknown: dict[str, list[str]] = {}
    for item in items:
        for label in [item.primary, *item.secondary]:
            if label not in known:
                unknown.setdefault(label, []).append(item.id)
    if unknown:
        parts = "; ".join(
            f"{label!r} (ids {', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''})"
            for label, ids in sorted(unknown.items())
        )
        raise DatasetError(f"{origin}: label(s) not in taxonomy {taxonomy.name} ({', '.join(taxonomy.names)}): {parts}")


def dataset_papers(items: Iterable[DatasetItem]) -> list[Paper]:
    """The dataset as ``Paper`` inputs, so the agent runs on exactly what is scored."""
    return [
        Paper(
            id=item.id,
            title=item.title,
            authors=list(item.authors),
            abstract=item.abstract,
            url=item.url,
            digest_summary=item.digest_summary,
            source_format="eval-dataset",
        )
        for item in items
    ]

"""The label set, read from one TOML file that prompts, the offline backend and evals share.

The default lives in ``prompts/taxonomy.toml`` (shipped inside the wheel as
``agent/prompt_files/taxonomy.toml``). Users pass their own with ``--taxonomy`` / ``taxonomy=``; it is
validated strictly so a typo is a clear error instead of a silently empty label.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import TaxonomyError

LABEL_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Label(BaseModel):
    """One method type: a name, a description the model reads, and cues the offline backend scores."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case identifier, e.g. rag")
    description: str = Field(min_length=1)
    strong: list[str] = Field(default_factory=list, description="Phrases that name the method outright")
    cues: list[str] = Field(default_factory=list, description="Supporting vocabulary")

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        if not LABEL_RE.match(v):
            raise ValueError(f"label name {v!r} must be lower-case letters, digits and _")
        return v


class Taxonomy(BaseModel):
    """A validated taxonomy. ``fingerprint`` identifies its exact content (used in cache keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = "1"
    fallback: str = Field(description="Label used when nothing else fits")
    rules: str = ""
    labels: list[Label] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> Taxonomy:
        names = [label.name for label in self.labels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate label(s): {', '.join(dupes)}")
        if self.fallback not in names:
            raise ValueError(f"fallback {self.fallback!r} is not one of the labels {names}")
        return self

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label(self, name: str) -> Label:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(name)

    @cached_property
    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        """Short identity recorded in every result: ``name@fingerprint``."""
        return f"{self.name}@{self.fingerprint}"

    def describe(self) -> str:
        """The label list as the prompt shows it."""
        return "\n".join(f"- `{label.name}`: {label.description}" for label in self.labels)

    def describe_short(self) -> str:
        """The label list with each definition cut to its first clause, for small context windows."""
        return "\n".join(f"- {label.name}: {_first_clause(label.description)}" for label in self.labels)


def _first_clause(text: str) -> str:
    """Up to the first colon or sentence end: ``Retrieval-augmented generation`` from its definition."""
    for stop in (":", ". ", ";"):
        if stop in text:
            return text.split(stop, 1)[0].strip()
    return text.strip()


def default_taxonomy_text() -> str:
    return resources.files("agent.prompt_files").joinpath("taxonomy.toml").read_text(encoding="utf-8")


def parse_taxonomy(text: str, origin: str = "<taxonomy>") -> Taxonomy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{origin}: not valid TOML ({exc})") from None
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise TaxonomyError(f"{origin}: invalid taxonomy at {where}: {first['msg']}") from None


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load ``path`` (a TOML file) or the built-in default taxonomy."""
    if path is None:
        return parse_taxonomy(default_taxonomy_text(), "built-in taxonomy")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{p}: taxonomy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{p}: cannot read taxonomy ({exc.__class__.__name__})") from None
    return parse_taxonomy(text, str(p))

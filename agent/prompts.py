"""Prompt templates: versioned text files in ``prompts/``, rendered with the taxonomy.

A template is two files, ``<version>.system.txt`` and ``<version>.user.txt``, with
``{{ name }}`` placeholders. Rendering fails loudly on a placeholder without a value (and on a
value without a placeholder), so a typo in a template can never send an empty prompt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from agent.errors import ConfigError
from agent.schema import Paper
from agent.taxonomy import Taxonomy

DEFAULT_PROMPT_VERSION = "triage-v1"
PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
# Tags the user template uses to fence the paper; stripped from paper text so data cannot
# close the fence and pose as instructions.
FENCE_RE = re.compile(r"</?\s*(?:paper|title|abstract|digest_summary)\s*>", re.IGNORECASE)


# The most of an abstract the model is sent. arXiv abstracts are at most 1,920 characters;
# a record with a 1.1 MB "abstract" cost 275,040 prompt tokens for one paper. Cut at a sentence
# (or word) boundary, with a marker so the model knows text is missing.
MAX_PROMPT_ABSTRACT_CHARS = 8_000
CUT_MARKER = " [... abstract cut at {n:,} characters]"


def clip_abstract(text: str, limit: int = MAX_PROMPT_ABSTRACT_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else its start up to the last sentence end
    (or, with none in the second half, the last space) before ``limit``, plus ``CUT_MARKER``."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    sentence = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    if sentence >= limit // 2:
        head = head[: sentence + 1]
    elif head.rfind(" ") >= limit // 2:
        head = head[: head.rfind(" ")]
    return head.rstrip() + CUT_MARKER.format(n=limit)


def render(template: str, values: dict[str, str], name: str = "template") -> str:
    wanted = set(PLACEHOLDER_RE.findall(template))
    missing = wanted - values.keys()
    if missing:
        raise ConfigError(f"{name}: no value for placeholder(s) {', '.join(sorted(missing))}")
    unused = values.keys() - wanted
    if unused:
        raise ConfigError(f"{name}: template has no placeholder for {', '.join(sorted(unused))}")
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


@dataclass(frozen=True)
class PromptTemplate:
    """A system + user template pair and the taxonomy it is rendered with."""

    version: str
    system_template: str
    user_template: str
    taxonomy: Taxonomy

    @cached_property
    def system(self) -> str:
        """The system prompt: the same bytes for every paper, so a server's prefix cache reuses it.

        A template uses any of ``labels``, ``labels_short`` (first clause of each definition,
        for the compact variant) and ``rules``; a placeholder outside these still fails loudly.
        """
        values = {
            "labels": self.taxonomy.describe,
            "labels_short": self.taxonomy.describe_short,
            "rules": lambda: self.taxonomy.rules.strip(),
        }
        used = {name: value() for name, value in values.items() if "{{ " + name + " }}" in self.system_template}
        return render(self.system_template, used, f"{self.version}.system.txt")

    @cached_property
    def fingerprint(self) -> str:
        text = self.system_template + "\x00" + self.user_template
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def user(self, paper: Paper) -> str:
        summary = ""
        if paper.digest_summary:
            summary = "<digest_summary>\n" + FENCE_RE.sub(" ", paper.digest_summary) + "\n</digest_summary>"
        return render(
            self.user_template,
            {
                "title": FENCE_RE.sub(" ", paper.title),
                "abstract": FENCE_RE.sub(" ", clip_abstract(paper.abstract)),
                "digest_summary": summary,
            },
            f"{self.version}.user.txt",
        )

    def messages(self, paper: Paper) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user(paper)},
        ]


def load_prompt(
    taxonomy: Taxonomy, version: str = DEFAULT_PROMPT_VERSION, directory: str | Path | None = None
) -> PromptTemplate:
    """Load ``<version>.system.txt`` / ``<version>.user.txt`` from ``directory`` or the built-ins."""
    parts: dict[str, str] = {}
    for part in ("system", "user"):
        fname = f"{version}.{part}.txt"
        try:
            if directory is None:
                parts[part] = resources.files("agent.prompt_files").joinpath(fname).read_text(encoding="utf-8")
            else:
                parts[part] = (Path(directory) / fname).read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            where = directory or "built-in prompts"
            raise ConfigError(f"prompt {version!r}: {fname} not found in {where}") from None
    template = PromptTemplate(version, parts["system"], parts["user"], taxonomy)
    _ = template.system  # render now: a broken template fails at start-up, not mid-batch
    return template

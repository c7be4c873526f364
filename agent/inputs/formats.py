"""Which format a document is in, and the parser for each.

Formats are detected from content, never from the file name (digests arrive as ``.md``,
``.txt``, ``.json`` or no extension at all); ``input_format=`` overrides the guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from agent.errors import InputError
from agent.inputs.atom import parse_atom
from agent.inputs.jsonl import parse_json, parse_jsonl
from agent.inputs.markdown import HEADING_RE, TABLE_HEADER_RE, parse_digest_md, parse_table_md
from agent.schema import Paper

FORMATS = ("digest-md", "table-md", "jsonl", "json", "atom")

PARSERS: dict[str, Callable[[str, str], Iterator[Paper]]] = {
    "digest-md": parse_digest_md,
    "table-md": parse_table_md,
    "jsonl": parse_jsonl,
    "json": parse_json,
    "atom": parse_atom,
}


def unknown_format(where: str, fmt: str) -> InputError:
    """The one message for a format name that no parser has."""
    return InputError(where, f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")


# paper-agent's own outputs: a reading list (md) or results (JSON Lines / JSON). They name papers
# but hold no abstracts, so read back next to their digests they would win the de-duplication
# (first occurrence) and every paper would end "skipped: no abstract".
OWN_MD_RE = re.compile(r"^# paper-agent reading list\s*$", re.MULTILINE)
OWN_RESULT_RE = re.compile(r'"prompt_version"\s*:.*"taxonomy"\s*:', re.DOTALL)


def _own_output(text: str) -> str | None:
    """What kind of paper-agent output ``text`` (stripped) begins, or None."""
    if OWN_MD_RE.match(text[:256]):
        return "reading list"
    if text[:1] in "{[":
        first = text.split("\n", 1)[0] if text[:1] == "{" else text[:16384]  # the first record
        if OWN_RESULT_RE.search(first) and '"abstract"' not in first:
            return "results file"
    return None


def detect_format(text: str, path: str = "<text>") -> str:
    """Name the format of ``text`` from its content, or raise ``InputError``.

    paper-agent's own outputs are refused (a warning in a folder): they have no abstracts.
    """
    head = text.lstrip()[:2048]
    own = _own_output(text.lstrip())
    if own is not None:
        raise InputError(path, f"a paper-agent {own} (this tool's output, no abstracts), not a digest: left out")
    if head.startswith("<?xml") or re.search(r"<feed[\s>]", head):
        return "atom"
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("["):
        # A JSON array, unless it is a markdown link line.
        if re.match(r"^\[\s*[\{\]]", head):
            return "json"
    lines = text.split("\n")
    if any(HEADING_RE.match(line) for line in lines):
        return "digest-md"
    if any(TABLE_HEADER_RE.match(line) for line in lines[:200]):
        return "table-md"
    raise InputError(
        path,
        "no known format (expected a daily-arXiv digest, an arXiv Daily Report table, "
        "JSON Lines or an Atom feed; use --input-format to force one)",
    )


def parse_text(text: str, path: str = "<text>", input_format: str | None = None) -> Iterator[Paper]:
    """Parse one document already in memory."""
    text = text.removeprefix("\ufeff")
    fmt = input_format or detect_format(text, path)
    if fmt not in PARSERS:
        raise unknown_format(path, fmt)
    return PARSERS[fmt](text, path)

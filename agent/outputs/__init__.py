"""Writing results: JSONL, CSV, and the Markdown and HTML digests.

``writers`` holds the formats and the all-or-nothing file target, ``markdown`` and ``html`` the
two digests, ``digest`` what they share, and ``text`` the escaping and LaTeX clean-up of paper
text. The names below are the ones the rest of the package imports.
"""

from agent.outputs.digest import LOW_CONFIDENCE, Coverage, describe_fetch, is_low
from agent.outputs.html import render_html
from agent.outputs.markdown import render_markdown
from agent.outputs.text import http_url, latex_to_text, md_link, md_text
from agent.outputs.writers import (
    CSV_FIELDS,
    EXTENSIONS,
    FORMATS,
    AtomicTarget,
    CsvWriter,
    DigestWriter,
    JsonlWriter,
    MarkdownWriter,
    ResultWriter,
    csv_safe,
    flatten,
    load_results,
    make_writer,
    resolve_format,
    write_papers,
)

__all__ = [
    "CSV_FIELDS",
    "EXTENSIONS",
    "FORMATS",
    "LOW_CONFIDENCE",
    "AtomicTarget",
    "Coverage",
    "CsvWriter",
    "DigestWriter",
    "JsonlWriter",
    "MarkdownWriter",
    "ResultWriter",
    "csv_safe",
    "describe_fetch",
    "flatten",
    "http_url",
    "is_low",
    "latex_to_text",
    "load_results",
    "make_writer",
    "md_link",
    "md_text",
    "render_html",
    "render_markdown",
    "resolve_format",
    "write_papers",
]

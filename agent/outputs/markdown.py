"""The Markdown digest: papers grouped by label, with a table of contents.

Every piece of paper text goes through ``md_text`` (no HTML, links or autolinks from it) and
titles and authors through ``latex_to_text`` first.
"""

from __future__ import annotations

from agent.outputs.digest import Coverage, group_results, header_line, is_low, offline_note
from agent.outputs.text import latex_to_text, md_link, md_text
from agent.schema import PaperResult
from agent.taxonomy import Taxonomy


def render_markdown(
    results: list[PaperResult], taxonomy: Taxonomy, notice: str | None = None, coverage: Coverage | None = None
) -> str:
    """The digest of ``results`` as Markdown; ``coverage`` adds what it covers and left out."""
    groups, untriaged = group_results(results, taxonomy)
    lines = ["# paper-agent reading list", "", header_line(results)]
    for line in (coverage or Coverage()).lines():
        lines += ["", md_text(line)]
    note = offline_note(results, notice)
    if note:
        lines += ["", f"> {note}"]
    lines += ["", "## Contents", ""]
    for name, items in groups.items():
        lines.append(f"- [{name}](#{name}) ({len(items)})")
    if untriaged:
        lines.append(f"- [not triaged](#not-triaged) ({len(untriaged)})")
    for name, items in groups.items():
        lines += ["", f"## {name}", "", f"_{taxonomy.label(name).description}_", ""]
        if not items:
            lines.append("No papers.")
        for r in items:
            lines += _entry(r)
    if untriaged:
        lines += ["", "## not triaged", ""]
        for r in untriaged:
            title = md_link(latex_to_text(r.title), r.url)
            lines.append(f"- {title} (arXiv:{md_text(r.id)}): **{r.status}**: {md_text(r.error or '')}")
    return "\n".join(lines).rstrip() + "\n"


def _entry(r: PaperResult) -> list[str]:
    """One triaged paper: linked title, id, authors, labels (low confidence marked), TL;DR, evidence."""
    labels = f"`{r.primary}` ({r.confidence:.2f})"
    if is_low(r):
        labels += " ⚠ **low confidence**"
    if r.secondary:
        labels += " · also " + ", ".join(f"`{s}`" for s in r.secondary)
    authors = md_text(latex_to_text(", ".join(r.authors))) or "unknown authors"
    lines = [
        f"### {md_link(latex_to_text(r.title), r.url)}",
        "",
        f"arXiv:{md_text(r.id)} · *{authors}*  ",
        f"**Labels:** {labels}  ",
        f"**TL;DR:** {md_text(r.tldr)}" + ("  " if r.evidence else ""),
    ]
    if r.evidence:
        lines.append(f"**Evidence:** “{md_text(r.evidence)}”")
    return lines + [""]

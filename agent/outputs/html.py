"""The HTML digest: one self-contained page (``-o today.html`` or ``--format html``).

No network and no external assets: the style and the script are inline, and a
Content-Security-Policy allows exactly those two (by hash) and nothing else, so the page opens
from disk, can be published on a static site or mailed, and cannot load anything even if some
paper text slipped through. Every paper is rendered on the server side, so the page is
complete with JavaScript off; the script only hides and shows papers (filter by label, minimum
confidence and a text search). All paper text is escaped with ``html.escape``.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from agent.outputs.digest import LOW_CONFIDENCE, Coverage, group_results, header_line, is_low, offline_note
from agent.outputs.text import http_url, latex_to_text
from agent.schema import PaperResult
from agent.taxonomy import Taxonomy

UNTRIAGED = "not-triaged"

CSS = """
[hidden]{display:none!important}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:58rem;margin:0 auto;padding:1rem;
color:#1d1d1f;background:#fff}
h1{margin:.2rem 0}.meta{color:#555;margin:.2rem 0}
#controls{position:sticky;top:0;background:#f5f6f8;border:1px solid #dde;border-radius:8px;padding:.6rem .8rem;
margin:1rem 0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;z-index:1}
#controls fieldset{border:0;margin:0;padding:0}#controls label{margin-right:.6rem;white-space:nowrap}
#search{min-width:14rem;padding:.2rem .4rem}#shown{color:#555;margin:0}
nav ul{padding-left:1.2rem}
section.group>h2{border-bottom:2px solid #dde;padding-bottom:.2rem;margin-top:2rem}
.desc{color:#555;font-style:italic}
article.paper{border-left:4px solid #4a7bd0;padding:.2rem .9rem;margin:1rem 0;background:#fafbfc}
article.paper.low{border-left-color:#d08a1c}
article.paper h3{margin:.3rem 0;font-size:1.05rem}
article.paper p{margin:.25rem 0}
.id,.authors{color:#555;font-size:.92rem}
.label{font-family:ui-monospace,monospace;background:#e8eefb;border-radius:4px;padding:0 .3rem}
.lowmark{background:#fdebd0;color:#8a4b00;border-radius:4px;padding:0 .35rem;font-weight:600;font-size:.85rem}
.evidence{color:#333;font-size:.95rem}
"""

SCRIPT = """
(function () {
  var form = document.getElementById("controls");
  form.hidden = false;
  var boxes = form.querySelectorAll("input[name=label]");
  var min = document.getElementById("min-confidence");
  var minOut = document.getElementById("min-confidence-value");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var papers = document.querySelectorAll("article.paper");
  function apply() {
    var labels = {};
    boxes.forEach(function (b) { if (b.checked) { labels[b.value] = true; } });
    var floor = parseFloat(min.value) || 0;
    var terms = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var n = 0;
    papers.forEach(function (p) {
      var text = p.textContent.toLowerCase();
      var ok = labels[p.dataset.label] === true && parseFloat(p.dataset.confidence) >= floor &&
        terms.every(function (t) { return text.indexOf(t) >= 0; });
      p.hidden = !ok;
      if (ok) { n += 1; }
    });
    document.querySelectorAll("section.group").forEach(function (s) {
      var k = s.querySelectorAll("article.paper:not([hidden])").length;
      s.querySelector(".count").textContent = String(k);
      s.hidden = k === 0;
    });
    minOut.textContent = floor.toFixed(2);
    shown.textContent = "Showing " + n + " of " + papers.length + " papers";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  apply();
})();
"""


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CSP = f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(SCRIPT)}; form-action 'none'"


def render_html(
    results: list[PaperResult], taxonomy: Taxonomy, notice: str | None = None, coverage: Coverage | None = None
) -> str:
    """The digest of ``results`` as one self-contained HTML page (see the module docstring)."""
    groups, untriaged = group_results(results, taxonomy)
    counts = {name: len(items) for name, items in groups.items()}
    if untriaged:
        counts[UNTRIAGED] = len(untriaged)
    head = [header_line(results), *(coverage or Coverage()).lines()]
    note = offline_note(results, notice)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        "<title>paper-agent reading list</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>paper-agent reading list</h1>",
        *(f'<p class="meta">{escape(line)}</p>' for line in head),
        f'<p class="meta notice">{escape(note)}</p>' if note else "",
        "</header>",
        _controls(counts),
        _contents(counts),
    ]
    for name, items in groups.items():
        parts.append(_section(name, taxonomy.label(name).description, items))
    if untriaged:
        parts.append(
            _section(UNTRIAGED, "Papers the backend could not label (errors, invalid replies, skipped).", untriaged)
        )
    parts += [f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"


def _controls(counts: dict[str, int]) -> str:
    """The filter form; ``hidden`` until the script runs, so a page without JavaScript shows no
    controls that do nothing."""
    boxes = "".join(
        f'<label><input type="checkbox" name="label" value="{escape(name)}" checked> '
        f"{escape(_title(name))} ({n})</label>"
        for name, n in counts.items()
    )
    return (
        '<form id="controls" hidden><fieldset><legend>Labels</legend>'
        f"{boxes}</fieldset>"
        '<label>Min confidence <input type="range" id="min-confidence" min="0" max="1" step="0.05" value="0"> '
        '<output id="min-confidence-value">0.00</output></label>'
        '<label>Search <input type="search" id="search" placeholder="title, author, TL;DR…"></label>'
        f'<p id="shown">Showing {sum(counts.values())} papers</p>'
        f'<p class="meta">Low confidence (below {LOW_CONFIDENCE:.2f}) is marked.</p></form>'
    )


def _contents(counts: dict[str, int]) -> str:
    items = "".join(f'<li><a href="#{escape(n)}">{escape(_title(n))}</a> ({c})</li>' for n, c in counts.items())
    return f"<nav><h2>Contents</h2><ul>{items}</ul></nav>"


def _title(name: str) -> str:
    return "not triaged" if name == UNTRIAGED else name


def _section(name: str, description: str, items: list[PaperResult]) -> str:
    body = "".join(_paper(r, name) for r in items) or "<p>No papers.</p>"
    return (
        f'<section class="group" id="{escape(name)}" data-label="{escape(name)}">'
        f'<h2>{escape(_title(name))} (<span class="count">{len(items)}</span>)</h2>'
        f'<p class="desc">{escape(description)}</p>{body}</section>'
    )


def _paper(r: PaperResult, group: str) -> str:
    """One paper: linked title, id, authors, labels with confidence, TL;DR and evidence."""
    title = escape(latex_to_text(r.title))
    url = http_url(r.url)
    link = f'<a href="{escape(url)}">{title}</a>' if url else title
    authors = escape(latex_to_text(", ".join(r.authors))) or "unknown authors"
    if r.status == "ok":
        labels = f'<span class="label">{escape(r.primary or "")}</span> {r.confidence:.2f}'
        if is_low(r):
            labels += ' <span class="lowmark">low confidence</span>'
        if r.secondary:
            labels += " · also " + ", ".join(f'<span class="label">{escape(s)}</span>' for s in r.secondary)
        details = f'<p class="tldr"><b>TL;DR:</b> {escape(r.tldr)}</p>'
        if r.evidence:
            details += f'<p class="evidence"><b>Evidence:</b> “{escape(r.evidence)}”</p>'
    else:
        labels = f"<b>{escape(r.status)}</b>"
        details = f'<p class="error">{escape(r.error or "")}</p>'
    css = "paper low" if is_low(r) else "paper"
    return (
        f'<article class="{css}" id="paper-{escape(r.id)}" data-label="{escape(group)}" '
        f'data-confidence="{r.confidence:.4f}"><h3>{link}</h3>'
        f'<p class="id">arXiv:{escape(r.id)}</p><p class="authors">{authors}</p>'
        f'<p class="labels">{labels}</p>{details}</article>'
    )

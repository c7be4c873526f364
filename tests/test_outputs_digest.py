"""The digests' content (md and html): id, coverage, evidence, low-confidence mark, LaTeX titles,
no autolinks from paper text; the --only/--min-confidence filters in every format; --version;
format names in any case."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fakes import FakeBackend, answer
from markdown_it import MarkdownIt

from agent import Agent, ConfigError, __version__, triage
from agent.outputs import LOW_CONFIDENCE, latex_to_text, md_text, render_html, render_markdown, resolve_format
from agent.schema import Paper, PaperResult
from agent.taxonomy import load_taxonomy

# Scripted answers per paper id: label, confidence, evidence.
SCRIPT = {
    "2501.00001": ("rag", 0.95, "a retrieval-augmented generation pipeline"),
    "2501.00002": ("rl_rec", 0.40, "a reinforcement learning method"),
    "2501.00003": ("generative_rec", 0.80, "generates item identifiers"),
}
PAPERS = [
    {
        "id": pid,
        "title": f"Paper {pid}",
        "authors": ["Ada Lovelace"],
        "abstract": "An abstract.",
        "url": f"https://arxiv.org/abs/{pid}",
    }
    for pid in SCRIPT
]


def scripted(paper: Paper):
    label, conf, evidence = SCRIPT[paper.id]
    return answer(label, tldr=f"TL;DR of {paper.id}.", confidence=conf, evidence=evidence)


@pytest.fixture
def digest(tmp_path: Path) -> Path:
    path = tmp_path / "cs_ir_digest_2025-10-15.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAPERS), encoding="utf-8")
    return path


def run(inputs, output, **kwargs):
    backend = FakeBackend(reply=scripted)
    with Agent(backend=backend) as agent:
        return triage(inputs, agent, output=output, **kwargs), backend


def test_md_entry_shows_id_evidence_and_marks_low_confidence(digest, tmp_path):
    out = tmp_path / "out.md"
    run([digest], out)
    md = out.read_text(encoding="utf-8")
    rl = md.split("## rl_rec", 1)[1].split("## debiasing", 1)[0]
    assert "arXiv:2501&#46;00002" not in rl  # a version-less id is not a domain: left as is
    assert "arXiv:2501.00002" in rl
    assert "low confidence" in rl  # 0.40 < LOW_CONFIDENCE
    assert "**Evidence:** “a reinforcement learning method”" in rl
    rag = md.split("## rag", 1)[1].split("## generative_rec", 1)[0]
    assert "arXiv:2501.00001" in rag and "low confidence" not in rag
    assert LOW_CONFIDENCE == 0.5


def test_md_says_which_files_and_dates_it_covers(digest, tmp_path):
    out = tmp_path / "out.md"
    run([digest], out)
    head = out.read_text(encoding="utf-8").split("## Contents", 1)[0]
    assert "cs_ir_digest_2025-10-15" in head and "(2025-10-15)" in head


def test_md_says_which_arxiv_dates_it_covers():
    from agent.outputs import describe_fetch

    assert describe_fetch(["arxiv:cs.IR"], {"date": "2025-10-14"}) == ["arXiv: arxiv:cs.IR, submitted on 2025-10-14"]
    lines = describe_fetch(["arxiv:cs.IR"], {"since": "2025-10-01", "until": "2025-10-07"})
    assert lines == ["arXiv: arxiv:cs.IR, submitted 2025-10-01 to 2025-10-07"]
    assert "latest announcement as of" in describe_fetch(["arxiv:cs.IR"], {})[0]
    assert describe_fetch(["arxiv:2510.12815"], {}) == ["arXiv: arxiv:2510.12815 (papers by id)"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "md", "html"])
def test_only_and_min_confidence_filter_every_format_and_still_cache(digest, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    stats, _ = run([digest], out, only=["rag", "rl_rec"], min_confidence=0.5)
    text = out.read_text(encoding="utf-8")
    assert "2501.00001" in text  # rag 0.95: kept
    assert "2501.00002" not in text  # rl_rec 0.40: below the floor
    assert "2501.00003" not in text  # generative_rec: not asked for
    assert stats.left_out == 2 and stats.total == 3
    if fmt in ("md", "html"):
        assert "2 papers left out" in text
    if fmt == "csv":
        assert [row["id"] for row in csv.DictReader(text.splitlines())] == ["2501.00001"]
    # Left-out papers were triaged and cached: a second, unfiltered run sends nothing to the backend.
    stats, backend = run([digest], tmp_path / "all.jsonl")
    assert backend.calls == [] and stats.cached == 3


def test_filters_never_hide_a_failed_paper(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "2501.00009", "title": "No abstract", "url": ""}) + "\n", encoding="utf-8")
    stats, _ = run([path], tmp_path / "out.jsonl", only="rag", min_confidence=0.9)
    rows = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["status"] == "skipped" and stats.left_out == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"only": ["rag", "nonsense"]}, "--only nonsense: not a label"),
        ({"min_confidence": 1.5}, "--min-confidence 1.5: must be between 0 and 1"),
    ],
)
def test_bad_filters_are_config_errors_before_any_output(digest, tmp_path, kwargs, message):
    out = tmp_path / "out.md"
    with pytest.raises(ConfigError, match=message):
        run([digest], out, **kwargs)
    assert not out.exists() and not (tmp_path / "out.md.partial").exists()


def test_cli_only_and_min_confidence_report_left_out(cli, digest, tmp_path):
    out = tmp_path / "out.csv"
    proc = cli("run", digest, "-o", out, "--only", "rag,rl_rec", "--min-confidence", "0.99")
    assert proc.returncode == 0, proc.stderr
    assert "left out by --only / --min-confidence" in proc.stderr
    assert "wrote 0 results" in proc.stderr
    proc = cli("run", digest, "--only", "rags")
    assert proc.returncode == 2 and "--only rags: not a label" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ("$\\alpha$-Rec", "α-Rec"),
        ("R\\'emy and Fran\\c{c}ois", "Rémy and François"),
        ('{\\"u}ber', "über"),
        ("S$^2$GR: $\\mathcal{O}(n^2)$ Retrieval", "S²GR: O(n²) Retrieval"),
        ("$\\ell_1$ loss, $k \\times d$", "ℓ₁ loss, k × d"),
        ("$\\frac{a}{b}$ stays", "$\\frac{a}{b}$ stays"),  # no simple mapping: kept as written
        ("Plain title", "Plain title"),
    ],
)
def test_latex_in_titles_is_shown_as_text(latex, text):
    assert latex_to_text(latex) == text


def test_latex_titles_and_authors_render_as_text_in_md_and_html():
    taxonomy = load_taxonomy()
    result = PaperResult(
        id="2501.00001", title="$\\alpha$-RAG by R\\'emy", authors=["J. R\\'emy"], primary="rag", confidence=0.9
    )
    for page in (render_markdown([result], taxonomy), render_html([result], taxonomy)):
        assert "α-RAG by Rémy" in page and "J. Rémy" in page and "\\'" not in page


ABSTRACT_LINKS = [
    "https://evil.example/x",
    "www.evil.example",
    "evil@example.com",
    "![pixel](http://evil.example/track.png)",
    "evil.com/x",
]


@pytest.mark.parametrize("text", ABSTRACT_LINKS)
def test_no_markdown_renderer_makes_a_link_from_paper_text(text):
    # markdown-it's GFM-like preset with linkify: the autolinks GitHub makes, and fuzzy domains.
    rendered = MarkdownIt("gfm-like").render(f"**TL;DR:** see {md_text(text)} now")
    assert "<a " not in rendered and "<img" not in rendered
    # ... and it still reads as the original text.
    assert text.replace("&", "&amp;") in rendered or text in rendered.replace("&amp;", "&")


def test_md_digest_has_no_link_from_an_abstract(tmp_path):
    result = PaperResult(
        id="2501.00001",
        title="T",
        url="https://arxiv.org/abs/2501.00001",
        primary="rag",
        confidence=0.9,
        tldr="Code at https://evil.example/x, www.evil.example, evil@example.com.",
        evidence="![p](http://evil.example/track.png)",
    )
    rendered = MarkdownIt("gfm-like").render(render_markdown([result], load_taxonomy()))
    hrefs = [part.split('"', 1)[0] for part in rendered.split('href="')[1:]]
    assert all(h.startswith("#") or h == "https://arxiv.org/abs/2501.00001" for h in hrefs), hrefs
    assert "<img" not in rendered


@pytest.mark.parametrize(("fmt", "expected"), [("CSV", "csv"), ("Md", "md"), ("HTML", "html"), ("jsonl", "jsonl")])
def test_format_names_are_case_insensitive_like_extensions(fmt, expected):
    assert resolve_format(fmt, None) == expected
    assert resolve_format(None, f"x.{expected.upper()}") == expected


def test_cli_version(cli):
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"paper-agent {__version__}"


def test_cli_accepts_an_upper_case_format(cli, digest):
    proc = cli("run", digest, "-f", "CSV", "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("id,title,")


def test_html_page_is_self_contained_and_escaped():
    import re

    hostile = PaperResult(
        id="2501.00001",
        title='<script>alert(1)</script> "quoted"',
        authors=["<img src=x onerror=alert(1)>"],
        url="javascript:alert(1)",
        primary="rag",
        confidence=0.3,
        tldr="See <a href='https://evil.example'>this</a>.",
        evidence="</p><iframe src=https://evil.example>",
    )
    page = render_html([hostile], load_taxonomy())
    assert page.count("<script>") == 1 and "<img" not in page and "<iframe" not in page and "<a href='" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot;" in page
    assert "javascript:" not in page  # not a link, and not in any attribute
    # Nothing to fetch: no src= at all, no stylesheet link, and a policy that allows no network.
    assert not re.search(r"<[a-z]+[^>]*\ssrc=|<link\b|@import|url\(", page)
    assert "default-src 'none'" in page
    assert 'class="paper low"' in page and "low confidence" in page

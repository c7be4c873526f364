"""Every input format and its variants, from small texts written here."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent import InputError, Paper, detect_format, load_papers, parse_text


def parse(text: str, input_format: str | None = None) -> list[Paper]:
    return list(parse_text(text, "inline.md", input_format=input_format))


def one(text: str, input_format: str | None = None) -> Paper:
    papers = parse(text, input_format)
    assert len(papers) == 1, papers
    return papers[0]


DIGEST = """\
# cs.IR [[Back]](#toc)

### [1] [Dense Passage Retrieval at Scale](https://arxiv.org/abs/2501.01234)
*Ada Lovelace,Alan Turing*

Main category: cs.IR

TL;DR: A short English summary.

<details>
  <summary>Details</summary>
Motivation: why.

Abstract: We propose a retriever.

</details>
"""


# --------------------------------------------------------------------------- digest-md


def test_digest_heading_with_index_gives_id_title_authors_and_fields():
    p = one(DIGEST)
    assert (p.id, p.title) == ("2501.01234", "Dense Passage Retrieval at Scale")
    assert p.authors == ["Ada Lovelace", "Alan Turing"]
    assert p.abstract == "We propose a retriever."
    assert p.digest_summary == "A short English summary."
    assert (p.url, p.categories, p.source_line, p.source_format) == (
        "https://arxiv.org/abs/2501.01234",
        ["cs.IR"],
        3,
        "digest-md",
    )


def test_digest_heading_without_index_is_read_the_same():
    p = one(DIGEST.replace("### [1] [", "### ["))
    assert (p.id, p.title, p.abstract) == ("2501.01234", "Dense Passage Retrieval at Scale", "We propose a retriever.")


def test_tldr_without_semicolon_is_the_digest_summary():
    assert one(DIGEST.replace("TL;DR:", "TLDR:")).digest_summary == "A short English summary."


def test_bold_and_quoted_field_names_are_recognised():
    text = """\
### [Quoted Fields](https://arxiv.org/abs/2501.00002)
*Grace Hopper*

> **TL;DR:** A quoted summary.

**Abstract:** A bold abstract.
"""
    p = one(text)
    assert (p.digest_summary, p.abstract) == ("A quoted summary.", "A bold abstract.")


def test_quoted_multi_line_abstract_drops_the_quote_markers():
    text = """\
### [Quoted Fields](https://arxiv.org/abs/2501.00002)
*Grace Hopper*

> **Abstract:** First half of the abstract
> and its second half.
"""
    assert one(text).abstract == "First half of the abstract and its second half."


def test_versioned_abs_link_gives_the_id_without_version():
    p = one(DIGEST.replace("abs/2501.01234)", "abs/2501.01234v3)"))
    assert (p.id, p.url) == ("2501.01234", "https://arxiv.org/abs/2501.01234")


def test_hard_wrapped_abstract_becomes_one_normalised_paragraph():
    wrapped = (
        "Abstract: Dense retrievers map queries and documents into one vector space, and\n"
        "    we propose a   hard-negative miner that\n"
        "scales to billions of passages.\n"
    )
    p = one(DIGEST.replace("Abstract: We propose a retriever.\n", wrapped))
    assert p.abstract == (
        "Dense retrievers map queries and documents into one vector space, and we propose "
        "a hard-negative miner that scales to billions of passages."
    )


def test_latex_in_the_abstract_is_kept_verbatim():
    p = one(DIGEST.replace("a retriever.", "an $O(n^2)$ retriever with $87\\%$ recall."))
    assert p.abstract == "We propose an $O(n^2)$ retriever with $87\\%$ recall."


@pytest.mark.parametrize("summary", ["提出一种新的稠密检索方法。", "A compact English TL;DR."])
def test_english_and_chinese_tldrs_are_kept_as_digest_summary(summary):
    assert one(DIGEST.replace("A short English summary.", summary)).digest_summary == summary


@pytest.mark.parametrize("placeholder", ["Summary generation failed", "Error", "N/A"])
def test_placeholder_tldr_gives_no_digest_summary(placeholder):
    assert one(DIGEST.replace("A short English summary.", placeholder)).digest_summary is None


def test_old_style_id_in_a_digest_link():
    p = one(DIGEST.replace("abs/2501.01234", "abs/cs/0112017v1"))
    assert (p.id, p.url) == ("cs/0112017", "https://arxiv.org/abs/cs/0112017")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v2", "math.GT/0309136"),
        ("arXiv:cs/0112017", "cs/0112017"),
    ],
)
def test_old_style_ids_in_records(raw, expected):
    assert one(json.dumps({"id": raw, "title": "Old", "summary": "Text."})).id == expected


# --------------------------------------------------------------------------- table-md

TABLE = """\
# arXiv Daily Report - 28-Jan-2026

| Title | Link | abstract | author |
| --- | --- | --- | --- |
| S$^2$GR: Stepwise Reasoning | [https://arxiv.org/abs/2601.18664](https://arxiv.org/abs/2601.18664) | First paragraph of the abstract.
  Second paragraph, on a run-on line. | Zihao Guo, Jian Wang |
| Plain Row | [https://arxiv.org/abs/2601.00001v2](https://arxiv.org/abs/2601.00001v2) | Short abstract. | Ann Lee |
"""


def test_table_rows_give_papers_with_latex_titles_kept():
    first, second = parse(TABLE)
    assert (first.id, first.title) == ("2601.18664", "S$^2$GR: Stepwise Reasoning")
    assert first.authors == ["Zihao Guo", "Jian Wang"]
    assert (second.id, second.title, second.authors) == ("2601.00001", "Plain Row", ["Ann Lee"])
    assert second.abstract == "Short abstract."
    assert [p.source_line for p in (first, second)] == [5, 7]
    assert {p.source_format for p in (first, second)} == {"table-md"}


def test_table_row_running_on_over_indented_lines_is_one_abstract():
    first = parse(TABLE)[0]
    assert first.abstract == "First paragraph of the abstract. Second paragraph, on a run-on line."


def test_table_row_with_a_stray_pipe_in_the_abstract_is_kept():
    text = TABLE.replace("Short abstract.", "We bound $|x|$ and a | stray pipe.")
    row = parse(text)[1]
    assert (row.id, row.title, row.authors) == ("2601.00001", "Plain Row", ["Ann Lee"])
    assert row.abstract.startswith("We bound $|x|$ and a")
    assert row.abstract.endswith("stray pipe.")


def test_stray_pipe_keeps_the_abstract_text_exactly():
    text = TABLE.replace("Short abstract.", "We bound $|x|$ and a | stray pipe.")
    assert parse(text)[1].abstract == "We bound $|x|$ and a | stray pipe."


# --------------------------------------------------------------------------- JSON records


def test_our_own_paper_records_round_trip_through_jsonl():
    papers = [
        Paper(
            id="2501.00001",
            title="First",
            authors=["A B", "C D"],
            abstract="One.",
            url="https://arxiv.org/abs/2501.00001",
            categories=["cs.IR", "cs.CL"],
            digest_summary="摘要。",
        ),
        Paper(id="cs/0112017", title="Second", abstract="Two.", url="https://arxiv.org/abs/cs/0112017"),
    ]
    text = "".join(p.model_dump_json() + "\n" for p in papers)
    got = parse(text)
    keep = {"id", "title", "authors", "abstract", "url", "categories", "digest_summary"}
    assert [p.model_dump(include=keep) for p in got] == [p.model_dump(include=keep) for p in papers]
    assert [(p.source_line, p.source_format) for p in got] == [(1, "jsonl"), (2, "jsonl")]


DAILY_RECORD = {
    "id": "2501.01234",
    "pdf": "https://arxiv.org/pdf/2501.01234",
    "abs": "https://arxiv.org/abs/2501.01234",
    "authors": ["Ada Lovelace", "Alan Turing"],
    "title": "Generative Retrieval with Semantic IDs",
    "categories": ["cs.IR", "cs.CL"],
    "comment": "12 pages",
    "summary": "Generative retrieval maps documents to identifiers.\nWe propose a new\ntokenizer.\n",
    "AI": {"tldr": "提出了一种新的分词器。", "motivation": "m", "method": "x", "result": "r", "conclusion": "c"},
}


def test_daily_arxiv_ai_enhanced_records_are_mapped_onto_paper():
    p = one(json.dumps(DAILY_RECORD) + "\n")
    assert (p.id, p.title, p.authors, p.categories) == (
        "2501.01234",
        "Generative Retrieval with Semantic IDs",
        ["Ada Lovelace", "Alan Turing"],
        ["cs.IR", "cs.CL"],
    )
    assert p.abstract == "Generative retrieval maps documents to identifiers. We propose a new tokenizer."
    assert p.digest_summary == "提出了一种新的分词器。"
    assert p.source_format == "jsonl"


def test_daily_record_with_a_failed_ai_tldr_has_no_digest_summary():
    rec = {**DAILY_RECORD, "AI": {"tldr": "Summary generation failed"}}
    assert one(json.dumps(rec)).digest_summary is None


def test_json_array_of_records():
    second = {**DAILY_RECORD, "id": "2501.05678", "title": "Second"}
    papers = parse(json.dumps([DAILY_RECORD, second], indent=2))
    got = [(p.id, p.source_format, p.source_line) for p in papers]
    assert got == [("2501.01234", "json", 1), ("2501.05678", "json", 2)]
    assert papers[0].abstract == "Generative retrieval maps documents to identifiers. We propose a new tokenizer."


# --------------------------------------------------------------------------- Atom

ATOM = """\
<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <id>http://arxiv.org/api/q7lhGeCOJdTxSmYYfBSwNFFOX0I</id>
  <title type="html">ArXiv Query: search_query=cat:cs.IR&amp;id_list=&amp;start=0&amp;max_results=1</title>
  <updated>2025-01-03T00:00:00-05:00</updated>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/2501.01234v2</id>
    <updated>2025-01-03T18:00:00Z</updated>
    <published>2025-01-02T18:00:00Z</published>
    <title>Retrieval-Augmented Generation for
  Long Legal Documents</title>
    <summary>  We propose a retrieval-augmented generation
method for long documents with $O(n)$ memory.
</summary>
    <author>
      <name>Ada Lovelace</name>
    </author>
    <author>
      <name>Alan Turing</name>
      <arxiv:affiliation>Bletchley Park</arxiv:affiliation>
    </author>
    <arxiv:comment>12 pages</arxiv:comment>
    <link href="http://arxiv.org/abs/2501.01234v2" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2501.01234v2" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="cs.IR" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.IR" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
"""


def test_atom_feed_entry_becomes_a_paper():
    p = one(ATOM)
    assert (p.id, p.url) == ("2501.01234", "https://arxiv.org/abs/2501.01234")
    assert p.title == "Retrieval-Augmented Generation for Long Legal Documents"
    assert p.abstract == "We propose a retrieval-augmented generation method for long documents with $O(n)$ memory."
    assert p.authors == ["Ada Lovelace", "Alan Turing"]
    assert p.categories == ["cs.IR", "cs.CL"]  # primary first, no duplicate
    assert p.source_format == "atom"


def test_atom_with_a_doctype_is_refused():
    text = ATOM.replace("<feed ", '<!DOCTYPE feed [<!ENTITY x "y">]>\n<feed ', 1)
    with pytest.raises(InputError, match="DOCTYPE"):
        parse(text)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (DIGEST, "digest-md"),
        (TABLE, "table-md"),
        (json.dumps(DAILY_RECORD), "jsonl"),
        ("  \n" + json.dumps([DAILY_RECORD]), "json"),
        ("[\n]", "json"),
        (ATOM, "atom"),
        (ATOM.split("\n", 1)[1], "atom"),  # no XML declaration
    ],
)
def test_format_is_detected_from_content(text, fmt):
    assert detect_format(text) == fmt


def test_markdown_link_line_is_not_mistaken_for_a_json_array():
    text = "[Back to top](#toc)\n\n" + DIGEST.replace("# cs.IR [[Back]](#toc)\n", "")
    assert detect_format(text) == "digest-md"


def test_input_format_overrides_detection():
    both = DIGEST + "\n" + TABLE.split("\n", 2)[2]  # a digest that also holds a report table
    assert [p.id for p in parse(both)] == ["2501.01234"]
    assert [p.id for p in parse(both, input_format="table-md")] == ["2601.18664", "2601.00001"]


def test_unknown_input_format_is_an_input_error():
    with pytest.raises(InputError, match="unknown input format 'yaml'"):
        parse(DIGEST, input_format="yaml")


# --------------------------------------------------------------------------- files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def digest_of(*ids: str) -> str:
    return "\n".join(f"### [Paper {i}](https://arxiv.org/abs/{i})\n*Author {i}*\n\nAbstract: About {i}.\n" for i in ids)


def test_duplicates_across_files_keep_the_first_occurrence_in_order(tmp_path):
    a = write(tmp_path / "a.md", digest_of("2501.00001", "2501.00002"))
    b = write(tmp_path / "b.md", digest_of("2501.00002", "2501.00003"))
    papers = load_papers([b, a])
    assert [p.id for p in papers] == ["2501.00002", "2501.00003", "2501.00001"]
    assert papers[0].source_file == str(b)


def test_a_directory_argument_reads_every_file_in_name_order(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "2.jsonl", json.dumps({**DAILY_RECORD, "id": "2501.00009"}) + "\n")
    write(folder / "1.md", digest_of("2501.00001"))
    write(folder / "3.xml", ATOM)
    write(folder / ".hidden.md", digest_of("2501.00666"))
    papers = load_papers(folder)
    assert [(p.id, p.source_format) for p in papers] == [
        ("2501.00001", "digest-md"),
        ("2501.00009", "jsonl"),
        ("2501.01234", "atom"),
    ]


def test_crlf_line_endings_parse_the_same_as_lf(tmp_path):
    lf = write(tmp_path / "lf.md", DIGEST + "\n" + digest_of("2501.00002"))
    crlf = tmp_path / "crlf.md"
    crlf.write_bytes(lf.read_bytes().replace(b"\n", b"\r\n"))
    strip = {"source_file"}
    from_crlf = [p.model_dump(exclude=strip) for p in load_papers(crlf)]
    assert from_crlf == [p.model_dump(exclude=strip) for p in load_papers(lf)]
    assert load_papers(crlf)[0].abstract == "We propose a retriever."


def test_crlf_table_with_run_on_rows(tmp_path):
    path = tmp_path / "table.md"
    path.write_bytes(TABLE.replace("\n", "\r\n").encode())
    assert parse(TABLE)[0].abstract == load_papers(path)[0].abstract


@pytest.mark.parametrize("name", ["digest.md", "records.jsonl"])
def test_a_utf8_bom_is_tolerated(tmp_path, name):
    text = DIGEST if name.endswith(".md") else json.dumps(DAILY_RECORD) + "\n"
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    (p,) = load_papers(path)
    assert (p.id, p.source_line) == ("2501.01234", 3 if name.endswith(".md") else 1)


def test_parse_text_tolerates_a_bom_in_memory():
    assert one("\ufeff" + json.dumps(DAILY_RECORD)).id == "2501.01234"


def test_a_malformed_heading_is_skipped_with_a_warning_and_the_rest_kept(caplog):
    bad = "\n### [No Id](https://example.org/paper)\n*X*\n\nAbstract: x.\n\n"
    text = digest_of("2501.00001") + bad + digest_of("2501.00003")
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        papers = parse(text)
    assert [p.id for p in papers] == ["2501.00001", "2501.00003"]
    assert any("inline.md:6:" in r.getMessage() and "no arXiv id" in r.getMessage() for r in caplog.records)


def test_a_broken_jsonl_line_is_skipped_with_a_warning(caplog):
    text = json.dumps(DAILY_RECORD) + "\n{not json\n" + json.dumps({**DAILY_RECORD, "id": "2501.00002"}) + "\n"
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        papers = parse(text)
    assert [p.id for p in papers] == ["2501.01234", "2501.00002"]
    assert any("inline.md:2:" in r.getMessage() and "invalid JSON" in r.getMessage() for r in caplog.records)


def test_table_without_a_link_column_takes_the_id_from_a_linked_title():
    text = (
        "| Title | Authors | Abstract |\n|---|---|---|\n"
        "| [Semantic IDs for Search](https://arxiv.org/abs/2501.01234v2) | A. One, B. Two | We propose semantic IDs. |\n"
    )
    [paper] = list(parse_text(text, "list.md"))
    assert (paper.id, paper.title, paper.authors) == ("2501.01234", "Semantic IDs for Search", ["A. One", "B. Two"])


def test_digest_heading_numbered_with_a_dot_is_read():
    text = "### 7. [A Title Here](https://arxiv.org/abs/2501.00002)\n*X Y, Z W*\n\nAbstract: We propose things.\n"
    [paper] = list(parse_text(text, "d.md"))
    assert (paper.id, paper.title, paper.abstract) == ("2501.00002", "A Title Here", "We propose things.")

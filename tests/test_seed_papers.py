"""The three real digests in tests/fixtures give exactly the 40 papers of evals/seed_dataset.jsonl."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent import Paper, load_papers

FIXTURES = Path(__file__).parent / "fixtures"
SEED_DATASET = Path(__file__).parent.parent / "evals" / "seed_dataset.jsonl"
SEED_IDS = [json.loads(line)["id"] for line in SEED_DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
CJK = re.compile(r"[\u4e00-\u9fff]")

DIGEST_FILES = ["000_df25d4c09e31386d.txt", "002_82cf51270f6a01af.txt"]  # Chinese TL;DRs
TABLE_FILE = "001_fe8a91b259ae0996.txt"


@pytest.fixture(scope="module")
def papers() -> dict[str, Paper]:
    return {p.id: p for p in load_papers([FIXTURES])}


def test_the_fixture_folder_holds_the_40_seed_papers_in_file_order():
    assert [p.id for p in load_papers([FIXTURES])] == SEED_IDS
    assert len(SEED_IDS) == 40


@pytest.mark.parametrize("paper_id", SEED_IDS)
def test_seed_paper_fields_match_the_hand_checked_record(paper_id, papers, seed):
    paper, expected = papers[paper_id], seed[paper_id]
    assert paper.id == expected["id"]
    assert paper.title == expected["title"]
    assert paper.authors == expected["authors"]
    assert paper.abstract == expected["abstract"]
    assert paper.url == expected["url"]
    assert paper.digest_summary == expected["digest_summary"]


@pytest.mark.parametrize(
    ("name", "count", "fmt"),
    [(DIGEST_FILES[0], 11, "digest-md"), (TABLE_FILE, 22, "table-md"), (DIGEST_FILES[1], 7, "digest-md")],
)
def test_each_fixture_file_alone_gives_its_share_of_the_seed(name, count, fmt, papers):
    alone = load_papers(FIXTURES / name)
    assert len(alone) == count
    assert {p.source_format for p in alone} == {fmt}
    for p in alone:
        assert p == papers[p.id]


def test_ids_never_carry_a_version_suffix(papers):
    for pid in papers:
        assert re.fullmatch(r"\d{4}\.\d{5}", pid), pid


@pytest.mark.parametrize("name", DIGEST_FILES)
def test_chinese_digests_give_a_chinese_digest_summary_for_every_paper(name):
    for p in load_papers(FIXTURES / name):
        assert p.digest_summary and CJK.search(p.digest_summary), p.id


def test_the_table_report_gives_no_digest_summary():
    assert [p.digest_summary for p in load_papers(FIXTURES / TABLE_FILE)] == [None] * 22


def test_source_file_and_line_point_at_the_heading_or_row(papers):
    for p in papers.values():
        line = Path(p.source_file).read_text(encoding="utf-8").split("\n")[p.source_line - 1]
        assert line.startswith(("### [", "| ")), (p.id, line[:40])
        assert f"arxiv.org/abs/{p.id}" in line
        assert p.title.split()[0] in line


def test_source_lines_of_the_first_digest_are_the_heading_lines(papers):
    first = [p for p in papers.values() if p.source_file.endswith(DIGEST_FILES[0])]
    assert [p.source_line for p in first[:3]] == [12, 55, 92]
    assert papers["2601.17438"].source_line == 5  # first table row, after header and separator

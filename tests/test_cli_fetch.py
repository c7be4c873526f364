"""``paper-agent fetch`` and ``paper-agent run arxiv:...`` against the fake arXiv on 127.0.0.1.

In-process runs (``invoke``) get a fake clock for the 3-second spacing; real processes (``cli``)
check exit codes and that every failure is one line without a traceback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from arxiv_fakes import FakeArxiv, FakeClock, fake_arxiv, papers
from fake_server_fixtures import FakeServer

from agent.errors import FetchError
from agent.inputs.arxiv_client import Throttle

FIXTURES = Path(__file__).parent / "fixtures"
DAY = "2025-10-14"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("agent.inputs.arxiv_client.DEFAULT_THROTTLE", Throttle(3.0, fake, fake.sleep))
    return fake


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch, clock: FakeClock):
    """The 40 seed papers, submitted on DAY; today's feed announces them plus a cross-list and a replacement."""
    seed = fake_arxiv.seed_papers(DAY)
    feed = seed[:38] + [dict(seed[38], announce_type="cross"), dict(seed[39], announce_type="replace")]
    server = FakeArxiv(seed, feed)
    server.times = []
    server.on_request = lambda _record: server.times.append(clock())
    with server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_run_arxiv_date_writes_the_digest_and_a_rerun_sends_nothing_to_arxiv_or_the_model(arxiv, cli, tmp_path):
    with FakeServer() as model:
        args = (
            "run",
            "arxiv:cs.IR",
            "--date",
            DAY,
            "-o",
            "out.md",
            "--format",
            "md",
            "--backend",
            "openai",
            "--base-url",
            model.base_url,
            "--model",
            "fake",
        )
        first = cli(*args)
        assert first.returncode == 0, first.stderr
        assert (len(arxiv.requests), model.total_requests) == (1, 40)
        md = (tmp_path / "out.md").read_text(encoding="utf-8")
        assert md.count("\n### [") == 40 and "(https://arxiv.org/abs/2510.12815)" in md
        assert (
            f"arXiv: cs.IR {DAY}: 40 papers submitted (UTC) [1 request to arXiv, 0 pages from the cache]"
            in first.stderr
        )

        again = cli(*args)
        assert again.returncode == 0, again.stderr
        assert (len(arxiv.requests), model.total_requests) == (1, 40)
        assert "[0 requests to arXiv, 1 page from the cache]" in again.stderr
        assert (tmp_path / "out.md").read_text(encoding="utf-8").count("\n### [") == 40


def test_run_arxiv_with_the_offline_backend_triages_todays_announcement(arxiv, invoke, tmp_path):
    result = invoke("run", "arxiv:cs.IR", "-o", "today.jsonl")
    assert result.exit_code == 0, result.stderr
    rows = jsonl(tmp_path / "today.jsonl")
    assert len(rows) == 39 and {r["status"] for r in rows} == {"ok"}  # the replacement is skipped
    assert "cs.IR: 39 papers from today's announcement (38 new, 1 cross-lists, 1 replacements skipped)" in result.stderr
    assert arxiv.requests[0]["path"] == "/atom/cs.IR"


def test_run_mixes_arxiv_and_files_and_keeps_the_first_of_each_id(arxiv, invoke, tmp_path):
    arxiv.papers += papers(3, day=DAY)
    result = invoke("run", FIXTURES, "arxiv:cs.IR", "--date", DAY, "-o", "out.jsonl")
    assert result.exit_code == 0, result.stderr
    ids = [r["id"] for r in jsonl(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids)) == 43
    assert ids[-3:] == ["2510.20000", "2510.20001", "2510.20002"]  # the file's 40 come first


def test_run_arxiv_ids_fetches_exact_papers(arxiv, invoke, tmp_path):
    result = invoke("run", "arxiv:2510.12815v2,2510.12959", "-o", "two.jsonl")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in jsonl(tmp_path / "two.jsonl")] == ["2510.12815", "2510.12959"]
    assert arxiv.requests[0]["params"]["id_list"] == "2510.12815,2510.12959"


def test_a_weekend_run_writes_nothing_and_keeps_yesterdays_file(arxiv, cli, tmp_path):
    arxiv.feed = []
    (tmp_path / "today.md").write_text("yesterday's list\n", encoding="utf-8")
    proc = cli("run", "arxiv:cs.IR", "-o", "today.md", "--format", "md")
    assert proc.returncode == 0, proc.stderr
    assert "cs.IR: no announcement today (arXiv announces nothing on weekends and holidays)" in proc.stderr
    assert "no papers: nothing written" in proc.stderr
    assert (tmp_path / "today.md").read_text(encoding="utf-8") == "yesterday's list\n"


def test_date_options_without_an_arxiv_input_are_refused(invoke):
    from agent import ConfigError

    with pytest.raises(ConfigError, match="--date applies to arxiv: inputs"):
        invoke("run", FIXTURES, "--date", DAY)


# ---------------------------------------------------------------------------- paper-agent fetch


def test_fetch_writes_paper_jsonl_to_stdout(arxiv, invoke):
    result = invoke("fetch", "--no-cross-lists")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 38 and {r["announce_type"] for r in rows} == {"new"}
    assert rows[0]["id"] == "2510.12815" and rows[0]["abstract"].startswith("Reinforcement learning-based")


def test_fetch_since_until_pages_with_3_second_spacing_and_resumes_after_an_interruption(
    arxiv, invoke, monkeypatch, tmp_path
):
    arxiv.papers = sorted(arxiv.papers + fake_arxiv.synthetic_papers(320, DAY), key=lambda p: p["submitted"])
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "2")
    answer = arxiv.answer
    arxiv.answer = lambda path, params: (503, {}, "busy") if params.get("start") == "300" else answer(path, params)
    with pytest.raises(FetchError, match="incomplete, got 300 of 360 papers"):
        invoke("fetch", "--since", "2025-10-13", "--until", DAY, "-o", "papers.jsonl")
    assert not (tmp_path / "papers.jsonl").exists()  # a partial fetch writes nothing

    arxiv.answer = answer
    before = len(arxiv.requests)
    result = invoke("fetch", "--since", "2025-10-13", "--until", DAY, "-o", "papers.jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(tmp_path / "papers.jsonl")) == 360
    assert [r["params"]["start"] for r in arxiv.requests[before:]] == ["300"]  # page 1 came from the cache
    assert all(b - a >= 3.0 for a, b in zip(arxiv.times, arxiv.times[1:])), arxiv.times
    assert "[1 request to arXiv, 1 page from the cache]" in result.stderr


def test_two_fetch_commands_back_to_back_are_3_seconds_apart_at_arxiv(cli, monkeypatch):
    """Two processes: the spacing is the stamp file's (real time, so this test takes ~3 s)."""
    with FakeArxiv(papers(3)) as server:
        monkeypatch.setenv("PAPER_AGENT_ARXIV_API_URL", server.api_url)
        times: list[float] = []
        server.on_request = lambda _record: times.append(time.monotonic())
        for day in ("2025-10-13", "2025-10-14"):
            proc = cli("fetch", "--date", day)
            assert proc.returncode == 0, proc.stderr
    assert len(times) == 2 and times[1] - times[0] >= 2.9


def test_fetch_ids_accepts_versions_and_old_style_ids(arxiv, invoke, tmp_path):
    arxiv.papers.append(
        fake_arxiv.paper("cs/0112017", "An old-style paper", "Its abstract.", submitted="2001-12-19T18:03:51Z")
    )
    result = invoke("fetch", "--id", "2510.12815v3", "--id", "cs/0112017", "-o", "ids.jsonl")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in jsonl(tmp_path / "ids.jsonl")] == ["2510.12815", "cs/0112017"]


def test_cache_stats_counts_arxiv_pages_apart_from_results(arxiv, invoke):
    assert invoke("fetch", "--date", DAY, "-o", "p.jsonl").exit_code == 0
    stats = json.loads(invoke("cache", "stats").stdout)
    assert stats["entries"] == 0 and stats["arxiv_pages"]["pages"] == 1
    assert invoke("cache", "clear").stdout.strip() == "removed 0 entries and 1 arXiv pages"


def test_fetch_on_a_weekend_exits_0_with_one_line_and_no_output(arxiv, cli, tmp_path):
    arxiv.feed = []
    proc = cli("fetch", "cs.IR", "-o", "today.jsonl")
    assert proc.returncode == 0
    assert one_line(proc.stderr).startswith("cs.IR: no announcement today")
    assert proc.stdout == "" and not (tmp_path / "today.jsonl").exists()


@pytest.mark.parametrize("body", ["", "<feed><entry><title>cut off", "<html>Service Unavailable</html>"])
def test_an_empty_or_malformed_feed_exits_2_with_one_line(arxiv, cli, body):
    arxiv.fail_next(200, body)
    proc = cli("fetch")
    assert proc.returncode == 2
    assert one_line(proc.stderr).startswith("error: http://127.0.0.1:")


def test_run_with_an_unknown_category_exits_2_naming_it(arxiv, cli, tmp_path):
    proc = cli("run", "arxiv:cs.FOO", "-o", "today.md")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: arxiv:cs.FOO: cs.FOO is not an arXiv category")
    assert not (tmp_path / "today.md").exists()


def test_an_unreachable_arxiv_exits_4_with_one_line(cli, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_ARXIV_FEED_URL", "http://127.0.0.1:9/atom")
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "1")
    proc = cli("fetch")
    assert proc.returncode == 4
    assert "arXiv did not answer (ConnectError" in one_line(proc.stderr)


def test_run_with_an_unreachable_arxiv_exits_4_and_leaves_the_output_alone(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PAPER_AGENT_ARXIV_FEED_URL", "http://127.0.0.1:9/atom")
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "1")
    (tmp_path / "today.md").write_text("yesterday\n", encoding="utf-8")
    proc = cli("run", FIXTURES, "arxiv:cs.IR", "-o", "today.md", "--format", "md")
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith(
        "error: http://127.0.0.1:9/atom/cs.IR"
    )
    assert (tmp_path / "today.md").read_text(encoding="utf-8") == "yesterday\n"


def test_a_bad_date_exits_2_with_one_line(cli):
    proc = cli("fetch", "--date", "14/10/2025")
    assert proc.returncode == 2
    assert one_line(proc.stderr) == "error: --date '14/10/2025': not a date (expected YYYY-MM-DD)"


def test_an_old_style_id_goes_through_triage_to_the_digest(arxiv, invoke, tmp_path):
    arxiv.papers.append(
        fake_arxiv.paper(
            "cs/0112017",
            "Collaborative Filtering for Recommendation",
            "We propose a collaborative filtering method for recommendation and evaluate it on movie ratings.",
            submitted="2001-12-19T18:03:51Z",
        )
    )
    result = invoke("run", "arxiv:cs/0112017v1", "-o", "old.md", "--format", "md")
    assert result.exit_code == 0, result.stderr
    assert "(https://arxiv.org/abs/cs/0112017)" in (tmp_path / "old.md").read_text(encoding="utf-8")

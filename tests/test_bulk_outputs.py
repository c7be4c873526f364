"""What the bulk commands write and say: outputs that would destroy their own inputs, re-runs
after an interrupted ``run --batch``, whole-batch failures, warnings and summaries.

The OpenAI Batch API is played by ``test_bulk.BatchService`` (respx).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from llm_fakes import (  # noqa: I001
    API_KEY,
    BASE_URL,
    EchoModel,
    _isolate_llm,  # noqa: F401  (autouse: respx needs the httpx transport)
    make_agent,
    make_paper,
    make_settings,
    write_papers,
)
from test_bulk import BatchService, engine_results, noop, read_jsonl, reply_for, setup
from typer.testing import CliRunner, Result

from agent.bulk import batch_collect, batch_export, batch_import, batch_submit, triage_batch
from agent.cli import app
from agent.errors import BatchError, InputError


@pytest.fixture
def service(api: Any) -> BatchService:
    api._assert_all_called = False
    return BatchService(api)


@pytest.fixture
def papers(tmp_path: Path) -> tuple[Path, list]:
    ps = [make_paper(i) for i in range(6)]
    return write_papers(tmp_path / "papers.jsonl", ps), ps


def cli(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": BASE_URL})


# --------------------------------------------------------------------------- outputs among inputs


@pytest.mark.parametrize("victim", ["results.jsonl", "requests.jsonl", "requests.manifest.jsonl"])
def test_import_refuses_an_output_that_is_one_of_its_inputs(tmp_path: Path, papers: Any, victim: str) -> None:
    path, _ = papers
    exported = batch_export([path], make_agent(tmp_path), tmp_path / "requests.jsonl")
    engine_results(exported.requests, tmp_path / "results.jsonl")
    before = {p.name: p.read_bytes() for p in tmp_path.glob("re*.jsonl")}
    result = cli(
        "batch", "import", tmp_path / "results.jsonl", "--requests", exported.requests, "-o", tmp_path / victim
    )
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
    assert "is also an input file" in str(result.exception) and "\n" not in str(result.exception)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("re*.jsonl")} == before
    # ... so a later import still works.
    report = batch_import(
        tmp_path / "results.jsonl", exported.requests, settings=make_settings(tmp_path), output=tmp_path / "out.jsonl"
    )
    assert report.stats.statuses["ok"] == 6


@pytest.mark.parametrize("name", ["e.jsonl", "e.manifest.jsonl"])
def test_export_refuses_to_overwrite_an_input_digest(tmp_path: Path, papers: Any, name: str) -> None:
    path, _ = papers
    digest = tmp_path / name
    digest.write_bytes(path.read_bytes())
    before = digest.read_bytes()
    with pytest.raises(InputError, match="is also an input file"):
        batch_export([digest], make_agent(tmp_path), tmp_path / "e.jsonl")
    assert digest.read_bytes() == before
    result = cli("batch", "export", digest, "-o", tmp_path / "e.jsonl")
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
    assert digest.read_bytes() == before


# --------------------------------------------------------------------------- run --batch again


def interrupt(_: float) -> None:
    raise KeyboardInterrupt  # Ctrl-C while waiting for the batch


def test_run_batch_again_after_ctrl_c_collects_the_open_batch(
    tmp_path: Path, service: BatchService, papers: Any
) -> None:
    path, ps = papers
    agent, _, batch_api = setup(tmp_path)
    service.status = "in_progress"
    with pytest.raises(KeyboardInterrupt):
        triage_batch([path], agent, output=tmp_path / "rb.jsonl", api=batch_api, sleep=interrupt)
    assert len(service.batches) == 1 and not (tmp_path / "rb.jsonl").exists()
    service.status = "completed"
    submitted: list[Any] = []
    report = triage_batch(
        [path],
        make_agent(tmp_path),
        output=tmp_path / "rb.jsonl",
        api=batch_api,
        sleep=noop,
        on_submit=submitted.append,
    )
    rows = read_jsonl(tmp_path / "rb.jsonl")
    assert [(r["id"], r["status"]) for r in rows] == [(p.id, "ok") for p in ps]
    assert submitted[0].records == [] and [r.batch_id for r in submitted[0].attached] == ["batch_0"]
    assert report.stats.statuses["ok"] == len(ps) and len(service.batches) == 1  # nothing submitted twice


def test_run_batch_on_a_batch_rejected_as_a_whole_is_an_error_and_writes_nothing(
    tmp_path: Path, service: BatchService, papers: Any
) -> None:
    path, _ = papers
    service.status = "failed"
    service.errors = [{"code": "too_many_tasks", "message": "Enqueued token limit reached"}]
    result = cli("run", path, "--batch", "--poll", "0", "-o", tmp_path / "rb.md")
    assert isinstance(result.exception, BatchError) and result.exception.exit_code == 2
    message = str(result.exception)
    assert "batch_0 failed before running (too_many_tasks: Enqueued token limit reached)" in message
    assert "\n" not in message and not list(tmp_path.glob("rb.md*"))


# --------------------------------------------------------------------------- summaries


def test_run_batch_elapsed_time_counts_the_wait(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    service.status = "in_progress"

    def wait(_: float) -> None:
        time.sleep(0.3)
        service.status = "completed"

    report = triage_batch(
        [path], make_agent(tmp_path), output=tmp_path / "out.jsonl", api=setup(tmp_path)[2], sleep=wait
    )
    assert report.stats.statuses["ok"] == 6
    assert report.stats.elapsed_s >= 0.3


# --------------------------------------------------------------------------- import warnings


def bulk_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "agent.bulk" and r.levelno == logging.WARNING]


def exported_with_results(tmp_path: Path, papers: Any) -> Path:
    path, _ = papers
    exported = batch_export([path], make_agent(tmp_path), tmp_path / "requests.jsonl")
    engine_results(exported.requests, tmp_path / "results.jsonl")
    return exported.requests


def test_import_of_an_empty_results_file_says_so(tmp_path: Path, papers: Any, caplog: Any) -> None:
    requests = exported_with_results(tmp_path, papers)
    (tmp_path / "empty.jsonl").write_text("")
    with caplog.at_level(logging.WARNING, logger="agent.bulk"):
        report = batch_import(tmp_path / "empty.jsonl", requests, settings=make_settings(tmp_path))
    assert report.stats.statuses["error"] == 6
    (warning,) = bulk_warnings(caplog)
    assert "empty.jsonl: the results file has no result lines" in warning


def test_import_warns_when_a_custom_id_is_answered_twice_differently(tmp_path: Path, papers: Any, caplog: Any) -> None:
    requests = exported_with_results(tmp_path, papers)
    rows = read_jsonl(tmp_path / "results.jsonl")
    changed = json.loads(json.dumps(rows[0]))
    changed["response"]["body"]["choices"][0]["message"]["role"] = "assistant "  # another answer
    same = rows[1]  # a plain repeat: harmless, no warning
    (tmp_path / "dup.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*rows, changed, same]))
    with caplog.at_level(logging.WARNING, logger="agent.bulk"):
        batch_import(tmp_path / "dup.jsonl", requests, settings=make_settings(tmp_path))
    (warning,) = bulk_warnings(caplog)
    assert f"dup.jsonl:7: custom_id {rows[0]['custom_id']!r} answered again, differently" in warning
    assert "the first reply is kept" in warning


def test_import_of_the_wrong_results_file_warns_once(tmp_path: Path, papers: Any, caplog: Any) -> None:
    requests = exported_with_results(tmp_path, papers)
    rows = read_jsonl(tmp_path / "results.jsonl")
    for row in rows:
        row["custom_id"] = "9999.00001:" + row["custom_id"].split(":")[1][::-1]
    (tmp_path / "other.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    with caplog.at_level(logging.WARNING, logger="agent.bulk"):
        batch_import(tmp_path / "other.jsonl", requests, settings=make_settings(tmp_path))
    warnings = bulk_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert "other.jsonl: line 7 is not a JSON object: skipped" in warnings[0]
    assert "other.jsonl: 6 line(s) with a custom_id not in requests.manifest.jsonl skipped" in warnings[1]


def test_a_second_collect_does_not_report_the_first_ones_cost(
    tmp_path: Path, service: BatchService, papers: Any
) -> None:
    path, ps = papers
    agent, settings, batch_api = setup(tmp_path)
    batch_submit([path], agent, api=batch_api)
    first = batch_collect(["batch_0"], settings=settings, api=batch_api, output=tmp_path / "a.jsonl")
    second = batch_collect(["batch_0"], settings=settings, api=batch_api, output=tmp_path / "b.jsonl")
    assert first.stats.cost_usd > 0 and first.stats.new == len(ps)
    assert (second.stats.cost_usd, second.stats.new, second.stats.cached) == (0.0, 0, len(ps))
    assert second.stats.statuses["ok"] == len(ps)


def test_collect_repair_that_fixes_every_paper_suggests_nothing_more(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, ps = papers
    service.status = "expired"
    service.result = lambda cid, body: ("missing", None) if cid < ps[3].id else ("ok", reply_for(body))
    api.post("/chat/completions").mock(side_effect=EchoModel())
    agent, settings, batch_api = setup(tmp_path)
    batch_submit([path], agent, api=batch_api)
    result = cli("batch", "collect", "batch_0", "--repair", "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    assert {r["status"] for r in read_jsonl(tmp_path / "out.jsonl")} == {"ok"}
    assert "--repair" not in result.output and "expired" not in result.output

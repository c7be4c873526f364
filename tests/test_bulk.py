"""Bulk triage through the OpenAI Files and Batches endpoints (respx), and request files.

respx plays the API: uploads are kept, batches report whatever state a test sets, and output
and error files hold lines built from the uploaded requests (shuffled, missing, invalid...).
"""

from __future__ import annotations

import json
import random
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
from llm_fakes import (  # noqa: I001
    ABSTRACT_RE,
    API_KEY,
    BASE_URL,
    EchoModel,
    _isolate_llm,  # noqa: F401  (autouse: respx needs the httpx transport)
    body_of,
    error_response,
    json_body,
    make_agent,
    make_paper,
    make_settings,
    reply_args,
    tool_body,
    write_papers,
)
from typer.testing import CliRunner, Result

from agent.backends.base import CONTENT_RULE
from agent.bulk import (
    MAX_LINES,
    BatchAPI,
    Manifest,
    RecordStore,
    batch_cancel,
    batch_collect,
    batch_export,
    batch_import,
    batch_list,
    batch_status,
    batch_submit,
    manifest_path_for,
    triage_batch,
)
from agent.cli import app
from agent.errors import BatchError, BatchNotReady, ConfigError, InputError
from agent.pricing import load_prices, price_for
from agent.triage import triage


def noop(_: float) -> None:
    pass


def evidence_of(body: dict[str, Any]) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return " ".join(ABSTRACT_RE.search(user).group(1).split()[:5])


def reply_for(body: dict[str, Any], **args: Any) -> dict[str, Any]:
    make = tool_body if "tools" in body else json_body
    return make(reply_args(args.pop("evidence", evidence_of(body)), **args), (1000, 100))


class BatchService:
    """respx routes for /files and /batches; ``lines`` decides what each request's result is."""

    def __init__(self, router: Any) -> None:
        self.files: dict[str, bytes] = {}
        self.uploads: list[dict[str, Any]] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.status = "completed"
        self.errors: list[dict[str, Any]] | None = None
        self.result = lambda custom_id, body: ("ok", reply_for(body))  # -> (kind, payload)
        self.shuffle = True
        self.downloads = 0
        router.post("/files").mock(side_effect=self._upload)
        router.post("/batches").mock(side_effect=self._create)
        router.get("/batches").mock(side_effect=self._list)
        router.get(url__regex=r"/batches/[^/]+$").mock(side_effect=self._retrieve)
        router.post(url__regex=r"/batches/[^/]+/cancel$").mock(side_effect=self._cancel)
        router.get(url__regex=r"/files/[^/]+/content$").mock(side_effect=self._content)

    def _upload(self, request: httpx.Request) -> httpx.Response:
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content
        )
        fields = {
            p.get_param("name", header="content-disposition"): p.get_payload(decode=True) for p in msg.iter_parts()
        }
        ident = f"file-in-{len(self.files)}"
        self.files[ident] = fields["file"]
        self.uploads.append({"purpose": fields["purpose"], "raw": request.content, "headers": dict(request.headers)})
        return httpx.Response(
            200,
            json={
                "id": ident,
                "object": "file",
                "bytes": len(fields["file"]),
                "created_at": 0,
                "filename": "requests.jsonl",
                "purpose": "batch",
                "status": "processed",
            },
        )

    def _create(self, request: httpx.Request) -> httpx.Response:
        req = body_of(request)
        ident = f"batch_{len(self.batches)}"
        self.batches[ident] = {
            "id": ident,
            "object": "batch",
            "endpoint": req["endpoint"],
            "input_file_id": req["input_file_id"],
            "completion_window": req["completion_window"],
            "status": "validating",
            "created_at": 0,
            "metadata": req.get("metadata"),
            "request": req,
        }
        return httpx.Response(200, json=self._public(ident))

    def _public(self, ident: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[ident].items() if k != "request"}

    def _list(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"object": "list", "data": [self._public(i) for i in self.batches], "has_more": False}
        )

    def _cancel(self, request: httpx.Request) -> httpx.Response:
        ident = request.url.path.split("/")[-2]
        self.batches[ident]["status"] = "cancelling"
        return httpx.Response(200, json=self._public(ident))

    def _retrieve(self, request: httpx.Request) -> httpx.Response:
        ident = request.url.path.rsplit("/", 1)[-1]
        batch = self.batches[ident]
        batch["status"] = self.status
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].splitlines()]
        if self.status in ("completed", "expired", "cancelled") and "output_file_id" not in batch:
            out, err = [], []
            for n, line in enumerate(lines):
                kind, payload = self.result(line["custom_id"], line["body"])
                row = {"id": f"req_{n}", "custom_id": line["custom_id"], "response": None, "error": None}
                if kind == "ok":
                    row["response"] = {"status_code": 200, "request_id": f"r{n}", "body": payload}
                    out.append(row)
                elif kind == "http":
                    row["response"] = {
                        "status_code": payload[0],
                        "request_id": f"r{n}",
                        "body": {"error": {"message": payload[1]}},
                    }
                    err.append(row)
                elif kind == "error":
                    row["error"] = payload
                    err.append(row)
                # kind "missing": in neither file
            if self.shuffle:
                random.Random(7).shuffle(out)
            for name, rows in (("output", out), ("error", err)):
                if rows:
                    fid = f"file-{name}-{ident}"
                    self.files[fid] = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
                    batch[f"{name}_file_id"] = fid
            batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
        elif self.status in ("validating", "in_progress"):
            batch["request_counts"] = {"total": len(lines), "completed": len(lines) // 2, "failed": 0}
        if self.errors is not None:
            batch["errors"] = {"object": "list", "data": self.errors}
        return httpx.Response(200, json=self._public(ident))

    def _content(self, request: httpx.Request) -> httpx.Response:
        self.downloads += 1
        return httpx.Response(200, content=self.files[request.url.path.split("/")[-2]])


@pytest.fixture
def service(api: Any) -> BatchService:
    api._assert_all_called = False  # the service mounts every endpoint; each test uses a few
    return BatchService(api)


@pytest.fixture
def papers(tmp_path: Path) -> tuple[Path, list]:
    ps = [make_paper(i) for i in range(6)]
    return write_papers(tmp_path / "papers.jsonl", ps), ps


def setup(tmp_path: Path, **overrides: Any) -> tuple[Any, Any, BatchAPI]:
    agent = make_agent(tmp_path, **overrides)
    settings = make_settings(tmp_path, **overrides)
    return agent, settings, BatchAPI(settings, BASE_URL, sleep=noop)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_request_file_bodies_equal_what_the_online_path_sends(tmp_path: Path, api: Any, papers: Any, mode: str) -> None:
    path, ps = papers
    agent = make_agent(tmp_path, mode=mode, cache=False)
    echo = EchoModel()
    api.post("/chat/completions").mock(side_effect=echo)
    list(agent.analyze_many(ps))
    agent = make_agent(tmp_path, mode=mode)
    report = batch_export([path], agent, tmp_path / "requests.jsonl")
    lines = read_jsonl(report.requests)
    by_user = lambda body: body["messages"][-1]["content"]  # noqa: E731 - requests arrive in any order
    assert sorted((line["body"] for line in lines), key=by_user) == sorted(
        (body_of(r) for r in echo.requests), key=by_user
    )
    assert len(lines) == len(ps)
    assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
    manifest = Manifest(report.manifest)
    for line, paper in zip(lines, ps):
        assert line["custom_id"].startswith(paper.id + ":")
        assert manifest.key(line["custom_id"]) == agent.cache_key(paper)
        assert manifest.paper(line["custom_id"]).abstract == paper.abstract


def test_export_skips_cached_papers_and_papers_without_abstract(tmp_path: Path, api: Any) -> None:
    ps = [make_paper(0), make_paper(1), make_paper(2, abstract="")]
    path = write_papers(tmp_path / "p.jsonl", ps)
    api.post("/chat/completions").mock(side_effect=EchoModel())
    agent = make_agent(tmp_path)
    agent.analyze(ps[0])
    report = batch_export([path], agent, tmp_path / "requests.jsonl")
    assert (report.counts.requests, report.counts.cached, report.counts.skipped) == (1, 1, 1)
    assert [line["custom_id"].split(":")[0] for line in read_jsonl(report.requests)] == [ps[1].id]


# --------------------------------------------------------------------------- submit


def test_submit_uploads_creates_and_records_the_batch(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    agent, settings, api = setup(tmp_path)
    report = batch_submit([path], agent, api=api)
    assert report.batch_ids == ["batch_0"]
    assert service.uploads[0]["purpose"] == b"batch"
    created = service.batches["batch_0"]["request"]
    assert created["endpoint"] == "/v1/chat/completions" and created["completion_window"] == "24h"
    record = RecordStore(settings.cache_dir).find("batch_0")
    assert created["metadata"] == {"paper_agent_id": record.local_id}
    assert record.input_file_id == created["input_file_id"] and record.requests == len(ps)
    assert record.requests_path.read_bytes() == service.files[created["input_file_id"]]
    assert [p.id for _, _, p in Manifest(record.manifest_path)] == [p.id for p in ps]


def test_submit_splits_at_the_line_limit(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, _, api = setup(tmp_path)
    report = batch_submit([path], agent, api=api, max_per_batch=4)
    assert [r.requests for r in report.records] == [4, 2]
    assert MAX_LINES == 50_000  # the API's limit caps --max-papers-per-batch


def test_submit_splits_at_the_byte_limit(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, _, api = setup(tmp_path)
    one_line = len(read_jsonl_bytes(batch_export([path], make_agent(tmp_path / "x"), tmp_path / "r.jsonl").requests)[0])
    report = batch_submit([path], agent, api=api, max_bytes=one_line * 2 + 10)
    assert [r.requests for r in report.records] == [2, 2, 2]
    assert all(r.bytes <= one_line * 2 + 10 for r in report.records)


def read_jsonl_bytes(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_submit_skips_papers_already_in_an_open_batch(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    agent, _, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    again = batch_submit([path], agent, api=api)
    assert again.records == [] and again.counts.pending == len(ps)
    assert len(service.batches) == 1


def test_a_refused_upload_is_one_line_and_the_record_says_so(tmp_path: Path, api: Any, papers: Any) -> None:
    path, _ = papers
    api.post("/files").mock(return_value=error_response(401, f"Incorrect API key provided: {API_KEY}"))
    agent, settings, batch_api = setup(tmp_path)
    with pytest.raises(BatchError) as info:
        batch_submit([path], agent, api=batch_api)
    assert "AuthenticationError" in str(info.value) and API_KEY not in str(info.value) and "\n" not in str(info.value)
    (record,) = RecordStore(settings.cache_dir).all()
    assert record.status == "not_submitted" and API_KEY not in (record.dir / "record.json").read_text()
    assert "never submitted" in record.next_step()


def test_a_429_on_create_is_retried(tmp_path: Path, service: BatchService, api: Any, papers: Any) -> None:
    path, _ = papers
    route = api.post("/batches")
    create, calls = service._create, []

    def refuse_once(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error_response(429, "slow down") if len(calls) == 1 else create(request)

    route.side_effect = refuse_once
    agent, _, batch_api = setup(tmp_path)
    assert batch_submit([path], agent, api=batch_api).batch_ids == ["batch_0"]
    assert len(calls) == 2


# --------------------------------------------------------------------------- status, list, cancel


def test_status_reports_state_counts_and_estimated_cost(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    service.status = "in_progress"
    (record,) = batch_status(settings=settings, api=api)
    assert record.status == "in_progress" and record.counts == {
        "total": len(ps),
        "completed": len(ps) // 2,
        "failed": 0,
    }
    price = price_for("gpt-4o-mini", load_prices()).batch()
    expected = (record.est_prompt_tokens * price.input + len(ps) * 80 * price.output) / 1e6
    assert record.estimated_cost() == pytest.approx(expected, rel=1e-3)


def test_list_finds_a_batch_created_but_never_recorded(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    record = RecordStore(settings.cache_dir).all()[0]
    record.status, record.batch_id = "uploaded", None  # as if killed right after batches.create
    record.save()
    service.status = "in_progress"
    (found,) = batch_list(settings=settings, api=api)
    assert found.batch_id == "batch_0" and found.status == "in_progress"


def test_a_failed_create_is_resolved_before_the_next_submit(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, ps = papers
    route = api.post("/batches")
    route.side_effect = lambda request: error_response(500, "try later")
    agent, settings, batch_api = setup(tmp_path)
    with pytest.raises(BatchError, match="InternalServerError"):
        batch_submit([path], agent, api=batch_api)
    (record,) = RecordStore(settings.cache_dir).all()
    assert record.status == "uploaded" and "batch list" in record.next_step()
    route.side_effect = service._create
    again = batch_submit([path], agent, api=batch_api)  # nothing found under its id: sent again
    assert again.counts.requests == len(ps) and again.batch_ids == ["batch_0"]
    assert RecordStore(settings.cache_dir).find(record.local_id).status == "not_submitted"


def test_cancel(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    assert batch_cancel("batch_0", settings=settings, api=api).status == "cancelling"
    assert service.batches["batch_0"]["status"] == "cancelling"


def test_unknown_batch_id_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="unknown batch 'batch_nope'"):
        batch_collect(["batch_nope"], settings=make_settings(tmp_path))


# --------------------------------------------------------------------------- collect


def test_collect_shuffled_missing_invalid_and_failed_lines(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    fates = {
        ps[1].id: ("missing", None),
        ps[2].id: ("ok", "bad evidence"),
        ps[3].id: ("http", (500, "server fell over")),
        ps[4].id: ("error", {"code": "batch_expired", "message": "not run in time"}),
    }

    def result(custom_id: str, body: dict[str, Any]) -> tuple[str, Any]:
        kind, arg = fates.get(custom_id.split(":")[0], ("ok", None))
        if kind == "ok":
            return "ok", reply_for(body, evidence="not in the abstract") if arg else reply_for(body)
        return kind, arg

    service.result = result
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    report = batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "out.jsonl")
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [p.id for p in ps]  # manifest order, each paper once
    status = {r["id"]: (r["status"], r["error"] or "") for r in rows}
    assert status[ps[0].id][0] == status[ps[5].id][0] == "ok"
    assert status[ps[1].id][0] == "error" and "no result" in status[ps[1].id][1]
    assert status[ps[2].id][0] == "invalid" and "does not occur in the abstract" in status[ps[2].id][1]
    assert status[ps[2].id][1].startswith(f"batch: {CONTENT_RULE}")  # as online: the shape held, a rule broke
    assert status[ps[3].id] == ("error", "batch: HTTP 500: server fell over")
    assert status[ps[4].id] == ("error", "batch: batch_expired: not run in time")
    assert sorted(p for p, _, _ in report.problems) == sorted(p.id for p in ps[1:5])
    assert [agent.cache.get(agent.cache_key(p)) is not None for p in ps] == [True, False, False, False, False, True]


def test_collected_results_cost_the_batch_price(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "out.jsonl")
    online = price_for("gpt-4o-mini", load_prices()).cost(1000, 100)
    for row in read_jsonl(tmp_path / "out.jsonl"):
        assert row["usage"]["cost_usd"] == pytest.approx(online / 2)
        assert row["usage"]["prompt_tokens"] == 1000 and row["cached"] is False


def test_collecting_twice_changes_nothing(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    service.result = lambda cid, body: ("missing", None) if cid.startswith(ps[0].id) else ("ok", reply_for(body))
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "a.jsonl")
    for key, entry in list(agent.cache.entries()):  # mark every entry: a rewrite would drop the mark
        agent.cache._cache.set(key, json.dumps({**entry, "created_at": "first collect"}))
    downloads = service.downloads
    batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert [e["created_at"] for _, e in agent.cache.entries()] == ["first collect"] * (len(ps) - 1)
    assert service.downloads == downloads  # the files are read from the record, not fetched again


def test_a_running_batch_is_not_collected(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    service.status = "in_progress"
    with pytest.raises(BatchNotReady, match=r"in_progress \(3/6 done\)"):
        batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_an_expired_batch_keeps_what_finished_and_says_what_to_do(
    tmp_path: Path, service: BatchService, papers: Any
) -> None:
    path, ps = papers
    service.status = "expired"
    expired = {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    service.result = lambda cid, body: ("error", expired) if cid < ps[3].id else ("ok", reply_for(body))
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    report = batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "out.jsonl")
    assert [r["status"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["error"] * 3 + ["ok"] * 3
    assert "expired" in report.notes[0] and "batch submit" in report.notes[0]
    again = batch_submit([path], agent, api=api)  # only the unfinished papers go again
    assert again.counts.requests == 3 and again.counts.cached == 3


def test_a_failed_batch_reports_the_reason_for_every_paper(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, ps = papers
    service.status = "failed"
    service.errors = [{"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.", "line": 2}]
    agent, settings, api = setup(tmp_path)
    batch_submit([path], agent, api=api)
    report = batch_collect(["batch_0"], settings=settings, api=api, output=tmp_path / "out.jsonl")
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert {r["status"] for r in rows} == {"error"} and "not parseable" in rows[0]["error"]
    assert "failed (invalid_json_line" in report.notes[0] and "(line 2)" in report.notes[0]
    assert "nothing is charged" in report.notes[0]


def test_repair_reasks_only_the_failed_papers_online(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, ps = papers
    service.result = lambda cid, body: (
        ("ok", reply_for(body, evidence="nope")) if cid.startswith(ps[2].id) else ("ok", reply_for(body))
    )
    echo = EchoModel()
    api.post("/chat/completions").mock(side_effect=echo)
    agent, settings, batch_api = setup(tmp_path)
    batch_submit([path], agent, api=batch_api)
    report = batch_collect(["batch_0"], settings=settings, api=batch_api, output=tmp_path / "out.jsonl", repair=True)
    assert len(echo.requests) == 1 and ps[2].title in body_of(echo.requests[0])["messages"][1]["content"]
    assert report.repaired == 1 and report.problems == []
    assert {r["status"] for r in read_jsonl(tmp_path / "out.jsonl")} == {"ok"}


def test_after_collect_run_makes_no_calls_and_writes_the_same_results(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, _ = papers
    chat = api.post("/chat/completions").mock(side_effect=EchoModel())
    agent, settings, batch_api = setup(tmp_path)
    batch_submit([path], agent, api=batch_api)
    batch_collect(["batch_0"], settings=settings, api=batch_api, output=tmp_path / "collected.jsonl")
    stats = triage([path], make_agent(tmp_path), output=tmp_path / "run.jsonl")
    assert chat.call_count == 0 and stats.cached == 6
    strip = lambda rows: [{k: v for k, v in r.items() if k != "cached"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(tmp_path / "run.jsonl")) == strip(read_jsonl(tmp_path / "collected.jsonl"))


def test_run_batch_submits_waits_and_writes_every_paper_in_input_order(
    tmp_path: Path, service: BatchService, api: Any
) -> None:
    ps = [make_paper(i) for i in range(4)] + [make_paper(9, abstract="")]
    path = write_papers(tmp_path / "p.jsonl", ps)
    chat = api.post("/chat/completions").mock(side_effect=EchoModel())
    agent, _, batch_api = setup(tmp_path)
    agent.analyze(ps[0])  # already cached: not submitted, reported as cached
    assert chat.call_count == 1
    states = iter(["validating", "in_progress", "completed"])
    polls: list[tuple[int, int]] = []

    def on_progress(done: int, total: int, records: list) -> None:
        polls.append((done, total))
        service.status = next(states, "completed")

    service.status = "validating"
    report = triage_batch(
        [path], agent, output=tmp_path / "out.jsonl", api=batch_api, sleep=noop, on_progress=on_progress
    )
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [p.id for p in ps]
    assert [(r["status"], r["cached"]) for r in rows] == [("ok", True)] + [("ok", False)] * 3 + [("skipped", False)]
    assert chat.call_count == 1 and len(polls) >= 3 and polls[-1] == (3, 3)
    assert report.stats.statuses["ok"] == 4


def test_run_batch_refuses_an_output_that_is_an_input_before_submitting(
    tmp_path: Path, service: BatchService, api: Any
) -> None:
    path = write_papers(tmp_path / "p.jsonl", [make_paper(i) for i in range(2)])
    before = path.read_bytes()
    agent, _, batch_api = setup(tmp_path)
    with pytest.raises(InputError, match="is also an input file"):
        triage_batch([path], agent, output=path, api=batch_api, sleep=noop)
    assert path.read_bytes() == before
    assert not service.uploads and not service.batches  # nothing was uploaded or created


# --------------------------------------------------------------------------- run --batch options


def run_cli(*args: object) -> Result:
    """``paper-agent ...`` in process, against the respx endpoint (cache: conftest's cache dir)."""
    env = {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": BASE_URL}
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def uploaded_ids(service: BatchService) -> list[str]:
    inputs = [data for ident, data in service.files.items() if ident.startswith("file-in-")]
    return [json.loads(line)["custom_id"].split(":")[0] for data in inputs for line in data.splitlines()]


@pytest.mark.parametrize(
    "option, message",
    [
        (["--retry-errors", "old.jsonl"], "--retry-errors does not apply with --batch"),
        (["--concurrency", "8"], "--concurrency does not apply with --batch"),  # the default, but given
        (["-j", "32"], "--concurrency does not apply with --batch"),
        # The arXiv options are honoured with --batch, exactly as run reads them: with no arxiv: input
        # they are refused the same way.
        (["--date", "2025-10-15"], "--date applies to arxiv: inputs"),
        (["--since", "2025-10-01"], "--since applies to arxiv: inputs"),
        (["--until", "2025-10-15"], "--until applies to arxiv: inputs"),
    ],
)
def test_run_batch_refuses_an_option_it_cannot_honour_before_submitting(
    tmp_path: Path, service: BatchService, papers: Any, option: list[str], message: str
) -> None:
    path, _ = papers
    result = run_cli("run", path, "--batch", "--poll", "0", "-o", tmp_path / "out.jsonl", *option)
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert str(result.exception).startswith(message) and "\n" not in str(result.exception)
    assert not service.uploads and not service.batches and not (tmp_path / "out.jsonl").exists()


def test_run_batch_refresh_submits_cached_papers_too(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, ps = papers
    api.post("/chat/completions").mock(side_effect=EchoModel())
    make_agent(tmp_path).analyze(ps[0])  # cached online, in the cache the CLI uses
    result = run_cli("run", path, "--batch", "--refresh", "--poll", "0", "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    assert uploaded_ids(service) == [p.id for p in ps]
    assert [(r["status"], r["cached"]) for r in read_jsonl(tmp_path / "out.jsonl")] == [("ok", False)] * len(ps)


def test_run_batch_refresh_replaces_cached_results_and_never_reports_an_old_one(
    tmp_path: Path, service: BatchService, api: Any, papers: Any
) -> None:
    path, ps = papers
    api.post("/chat/completions").mock(side_effect=EchoModel())
    online = make_agent(tmp_path)
    for p in ps[:2]:
        online.analyze(p)  # both cached online, confidence 0.9
    online.close()
    # The batch answers with another confidence, except for ps[1], whose reply is invalid.
    service.result = lambda cid, body: (
        ("ok", reply_for(body, evidence="nope"))
        if cid.startswith(ps[1].id)
        else ("ok", reply_for(body, confidence=0.5))
    )
    _, _, batch_api = setup(tmp_path)
    report = triage_batch(
        [path], make_agent(tmp_path, refresh=True), output=tmp_path / "out.jsonl", api=batch_api, sleep=noop
    )
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert uploaded_ids(service) == [p.id for p in ps]
    assert (rows[0]["status"], rows[0]["confidence"], rows[0]["cached"]) == ("ok", 0.5, False)
    assert rows[1]["status"] == "invalid" and report.problems[0][:2] == (ps[1].id, "invalid")
    later = make_agent(tmp_path)
    assert later.from_cache(ps[0]).confidence == 0.5  # replaced
    assert later.from_cache(ps[1]).confidence == 0.9  # kept: an invalid reply replaces nothing


# --------------------------------------------------------------------------- import


def engine_results(requests: Path, out: Path, drop: int = 0) -> None:
    lines = read_jsonl(requests)
    rows = [
        {
            "id": f"vllm-{n}",
            "custom_id": ln["custom_id"],
            "response": {"status_code": 200, "request_id": f"r{n}", "body": reply_for(ln["body"])},
            "error": None,
        }
        for n, ln in enumerate(lines)
    ][drop:]
    random.Random(1).shuffle(rows)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_import_fills_the_cache_and_run_then_makes_no_calls(tmp_path: Path, api: Any, papers: Any) -> None:
    path, ps = papers
    chat = api.post("/chat/completions").mock(side_effect=EchoModel())
    exported = batch_export([path], make_agent(tmp_path), tmp_path / "requests.jsonl")
    engine_results(exported.requests, tmp_path / "results.jsonl", drop=1)
    report = batch_import(
        tmp_path / "results.jsonl", exported.requests, settings=make_settings(tmp_path), output=tmp_path / "out.jsonl"
    )
    assert report.stats.statuses["ok"] == 5 and report.problems[0][:2] == (ps[0].id, "error")
    triage([path], make_agent(tmp_path), output=tmp_path / "run.jsonl")
    assert chat.call_count == 1  # only the paper the engine did not answer


def test_import_reads_several_result_files_and_lists_what_none_answered(tmp_path: Path, papers: Any) -> None:
    path, ps = papers
    exported = batch_export([path], make_agent(tmp_path), tmp_path / "requests.jsonl")
    engine_results(exported.requests, tmp_path / "all.jsonl")
    rows = sorted((tmp_path / "all.jsonl").read_text().splitlines(), key=lambda line: json.loads(line)["custom_id"])
    (tmp_path / "a.jsonl").write_text("\n".join(rows[:2]) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(rows[1:4] + ["not json"]) + "\n")  # a repeat and a broken line
    report = batch_import(
        [tmp_path / "a.jsonl", tmp_path / "b.jsonl"],
        exported.requests,
        settings=make_settings(tmp_path),
        output=tmp_path / "out.jsonl",
    )
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [p.id for p in ps]
    assert [r["status"] for r in out] == ["ok"] * 4 + ["error"] * 2
    assert "a.jsonl, b.jsonl" in report.problems[0][2]


def test_import_refuses_a_request_file_edited_after_export(tmp_path: Path, papers: Any) -> None:
    path, _ = papers
    exported = batch_export([path], make_agent(tmp_path), tmp_path / "requests.jsonl")
    engine_results(exported.requests, tmp_path / "results.jsonl")
    exported.requests.write_text(exported.requests.read_text().replace("gpt-4o-mini", "gpt-4o"))
    with pytest.raises(BatchError, match="does not match its manifest"):
        batch_import(tmp_path / "results.jsonl", exported.requests, settings=make_settings(tmp_path))


def test_import_without_a_manifest_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl").write_text("{}\n")
    with pytest.raises(BatchError, match=r"requests\.manifest\.jsonl: cannot read the batch manifest"):
        batch_import(tmp_path / "results.jsonl", tmp_path / "requests.jsonl")
    assert manifest_path_for("a/b.jsonl") == Path("a/b.manifest.jsonl")


def test_no_secret_in_request_files_records_or_outputs(tmp_path: Path, service: BatchService, papers: Any) -> None:
    path, _ = papers
    agent, settings, api = setup(tmp_path, base_url="http://user:sk-URLSECRET-123456@fake/v1")
    batch_api = BatchAPI(settings, BASE_URL, sleep=noop)
    batch_submit([path], agent, api=batch_api)
    batch_collect(["batch_0"], settings=settings, api=batch_api, output=tmp_path / "out.jsonl")
    batch_export([path], make_agent(tmp_path / "other"), tmp_path / "requests.jsonl")
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert API_KEY.encode() not in data and b"URLSECRET" not in data, f
    assert all(API_KEY.encode() not in u["raw"] for u in service.uploads)


def test_bulk_needs_an_llm_backend_and_the_cache(tmp_path: Path, papers: Any) -> None:
    path, _ = papers
    from agent.pipeline import Agent

    with pytest.raises(ConfigError, match="needs an LLM backend"):
        batch_export([path], Agent(backend="offline"), tmp_path / "r.jsonl")
    with pytest.raises(ConfigError, match="drop --no-cache"):
        batch_export([path], make_agent(tmp_path, cache=False), tmp_path / "r.jsonl")


# --------------------------------------------------------------------------- prices


def test_price_table_batch_discount(tmp_path: Path) -> None:
    table = load_prices()
    assert price_for("gpt-4o-mini", table).batch().input == pytest.approx(0.075)
    custom = tmp_path / "prices.toml"
    custom.write_text(
        "batch_discount = 0.25\n[models.m]\ninput = 1.0\noutput = 2.0\n[models.n]\ninput = 1.0\noutput = 2.0\nbatch_discount = 0.6\n"
    )
    table = load_prices(custom)
    assert (table["m"].batch().input, table["n"].batch().output) == (pytest.approx(0.75), pytest.approx(0.8))
    custom.write_text("batch_discount = 1.5\n")
    with pytest.raises(ConfigError, match="batch_discount must be in"):
        load_prices(custom)


@pytest.fixture
def fake_arxiv_day(monkeypatch: pytest.MonkeyPatch, api: Any) -> Any:
    """bench/fake_arxiv.py on 127.0.0.1 announcing the 40 seed papers (respx lets its host through)."""
    from arxiv_fakes import FakeArxiv, FakeClock, fake_arxiv

    from agent.inputs.arxiv_client import Throttle

    clock = FakeClock()
    monkeypatch.setattr("agent.inputs.arxiv_client.DEFAULT_THROTTLE", Throttle(3.0, clock, clock.sleep))
    api.route(host="127.0.0.1").pass_through()
    seed = fake_arxiv.seed_papers("2025-10-14")
    with FakeArxiv(seed, seed) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def test_run_batch_reads_arxiv_sources_like_run(tmp_path: Path, service: BatchService, fake_arxiv_day: Any) -> None:
    result = run_cli("run", "arxiv:cs.IR", "--batch", "--poll", "0", "-o", tmp_path / "today.jsonl")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(tmp_path / "today.jsonl")
    assert len(rows) == 40 and len(uploaded_ids(service)) == 40
    assert {r["status"] for r in rows} == {"ok"}
    assert [r["id"] for r in rows] == uploaded_ids(service)

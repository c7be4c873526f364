"""``agent.inputs.arxiv`` against arXiv's formats, with the network mocked by respx and a fake clock.

Requests go to the default endpoints (export.arxiv.org, rss.arxiv.org), intercepted by respx
and answered by the fake arXiv's logic (``bench/fake_arxiv.py``) or a recorded-format file from
``tests/data/arxiv``. Time is a ``FakeClock``: sleeping advances it, so the 3-second spacing and
``Retry-After`` are asserted on the requests' timestamps, never on wall time.
"""

from __future__ import annotations

import time

import httpx
import pytest
import respx
from arxiv_fakes import EPOCH, FakeArxiv, FakeClock, papers, recorded

from agent import ConfigError, FetchError, InputError, fetch_papers
from agent.inputs import arxiv_id
from agent.inputs.arxiv import fetch, parse_source


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def arxiv(clock: FakeClock):
    """The fake arXiv behind respx; ``arxiv.calls`` lists each request with its fake time."""
    server = FakeArxiv(papers(12))
    server.calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        server.calls.append({"t": clock(), "path": request.url.path, "params": params, "headers": request.headers})
        status, headers, body = server.answer(request.url.path, params)
        return httpx.Response(status, headers=headers, text=body)

    with respx.mock(assert_all_called=False) as router:
        router.route(host="export.arxiv.org", path="/api/query").mock(side_effect=handler)
        router.route(host="rss.arxiv.org", path__startswith="/atom/").mock(side_effect=handler)
        yield server


def get(clock: FakeClock, *args, **kwargs):
    return fetch(*args, clock=clock, sleep=clock.sleep, page_size=5, **kwargs)


# ---------------------------------------------------------------------------- the daily feed


def test_daily_feed_keeps_new_and_cross_lists_and_skips_replacements(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    result = get(clock, "cs.IR")
    assert [(p.id, p.announce_type) for p in result.papers] == [
        ("2510.12815", "new"),
        ("2510.13001", "cross"),
        ("2510.13002", "new"),
    ]
    assert result.note == "cs.IR: 3 papers from today's announcement (2 new, 1 cross-lists, 2 replacements skipped)"
    assert arxiv.calls[0]["path"] == "/atom/cs.IR"


def test_daily_feed_entries_become_clean_papers(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    first = get(clock, "cs.IR").papers[0]
    assert first.authors == ["Xiaocong Chen", "Siyu Wang", "Lina Yao"]  # from <dc:creator>
    assert first.abstract.startswith("Reinforcement learning-based recommender systems")  # no "Announce Type"
    assert first.categories == ["cs.IR", "cs.LG"] and first.url == "https://arxiv.org/abs/2510.12815"


def test_no_cross_lists_keeps_only_new_submissions(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    assert [p.id for p in get(clock, "cs.IR", cross_lists=False).papers] == ["2510.12815", "2510.13002"]


def test_a_weekend_feed_with_no_entries_is_no_papers_and_says_so(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_weekend.xml"))
    result = get(clock, "cs.IR")
    assert result.papers == []
    assert result.note == "cs.IR: no announcement today (arXiv announces nothing on weekends and holidays)"


def test_an_unknown_category_is_a_config_error_naming_it_and_nothing_is_cached(arxiv, clock):
    with pytest.raises(ConfigError, match=r"^arxiv:cs.FOO: cs.FOO is not an arXiv category .*Feed error for query"):
        get(clock, "cs.FOO")
    with pytest.raises(ConfigError):  # asked again, not answered from the cache as "no announcement"
        get(clock, "cs.FOO")
    assert len(arxiv.calls) == 2


def test_several_categories_are_one_feed_request(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    get(clock, "cs.ir,cs.CL")
    assert [c["path"] for c in arxiv.calls] == ["/atom/cs.IR+cs.CL"]


@pytest.mark.parametrize("body", ["", "   \n", "<feed><entry>", "<html><body>Service Unavailable</body></html>"])
def test_an_empty_or_malformed_answer_is_an_input_error(arxiv, clock, body):
    arxiv.fail_next(200, body)
    with pytest.raises(InputError) as exc:
        get(clock, "cs.IR")
    assert "\n" not in str(exc.value) and "rss.arxiv.org/atom/cs.IR" in str(exc.value)


def test_a_malformed_answer_is_not_cached(arxiv, clock):
    arxiv.fail_next(200, "<feed><entry>")
    with pytest.raises(InputError):
        get(clock, "cs.IR")
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    assert len(get(clock, "cs.IR").papers) == 3


# ---------------------------------------------------------------------------- cache and max age


def test_the_same_feed_again_is_served_from_the_cache(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    first = get(clock, "cs.IR")
    again = get(clock, "cs.IR")
    assert len(arxiv.calls) == 1
    assert (again.requests, again.cached_pages) == (0, 1)
    assert [p.id for p in again.papers] == [p.id for p in first.papers]


def test_todays_feed_is_fetched_again_after_the_max_age(arxiv, clock):
    arxiv.fail_next(200, recorded("daily_weekend.xml"))
    get(clock, "cs.IR")
    clock.advance(3599)
    get(clock, "cs.IR")
    assert len(arxiv.calls) == 1
    clock.advance(2)
    arxiv.fail_next(200, recorded("daily_cs_IR.xml"))
    assert len(get(clock, "cs.IR").papers) == 3
    assert len(arxiv.calls) == 2


def test_refresh_fetches_anew(arxiv, clock):
    get(clock, "cs.IR", date="2025-10-14")
    result = get(clock, "cs.IR", date="2025-10-14", refresh=True)
    assert result.requests == 3 and len(arxiv.calls) == 6


def test_a_settled_past_day_is_never_fetched_again(arxiv, clock):
    get(clock, "cs.IR", date="2025-10-14")
    clock.advance(365 * 86400)
    again = get(clock, "cs.IR", date="2025-10-14")
    assert again.requests == 0 and len(again.papers) == 12


def test_a_range_reaching_today_is_fetched_again_after_the_max_age(arxiv, clock):
    get(clock, "cs.IR", since="2026-01-01")
    clock.advance(3601)
    assert get(clock, "cs.IR", since="2026-01-01").requests == 1


# ---------------------------------------------------------------------------- dates, paging, spacing


def test_a_date_range_pages_through_every_result(arxiv, clock):
    result = get(clock, "cs.IR", since="2025-10-13", until="2025-10-14")
    assert [p.id for p in result.papers] == [f"2510.{20000 + i}" for i in range(12)]
    assert [(c["params"]["start"], c["params"]["max_results"]) for c in arxiv.calls] == [
        ("0", "5"),
        ("5", "5"),
        ("10", "5"),
    ]
    query = arxiv.calls[0]["params"]["search_query"]
    assert query == "cat:cs.IR AND submittedDate:[202510130000 TO 202510142359]"
    assert arxiv.calls[0]["params"]["sortBy"] == "submittedDate"


def test_date_filters_on_the_server_side(arxiv, clock):
    arxiv.papers = papers(3, day="2025-10-13") + papers(4, day="2025-10-14", start=3)
    assert len(get(clock, "cs.IR", date="2025-10-14").papers) == 4
    assert len(get(clock, "cs.IR", date="2025-10-12").papers) == 0


def test_requests_are_at_least_3_seconds_apart(arxiv, clock):
    get(clock, "cs.IR", date="2025-10-14")
    get(clock, "cs.IR,cs.CL", date="2025-10-14")
    times = [c["t"] for c in arxiv.calls]
    assert len(times) == 6
    assert all(b - a >= 3.0 for a, b in zip(times, times[1:])), times


def test_the_spacing_spans_processes_through_the_stamp_in_the_cache_folder(arxiv, clock, cache_dir):
    """Another paper-agent asked arXiv 1 s ago (its stamp says so): this one waits the other 2 s."""
    stamp = cache_dir / "arxiv-last-request"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(repr(EPOCH - 1), encoding="ascii")
    get(clock, "cs.IR")
    assert clock.sleeps == [2.0] and arxiv.calls[0]["t"] == EPOCH + 2
    assert float(stamp.read_text(encoding="ascii")) == EPOCH + 2  # the next process waits for this one


def test_an_unreadable_stamp_only_spaces_this_process(arxiv, clock, cache_dir):
    (cache_dir / "arxiv-last-request").mkdir(parents=True)  # a folder where the file should be
    get(clock, "cs.IR", date="2025-10-14")
    assert len(arxiv.calls) == 3 and clock.sleeps == [3.0, 3.0]


def test_several_categories_are_or_ed_in_one_query(arxiv, clock):
    get(clock, ["cs.IR", "cs.CL"], date="2025-10-14")
    assert arxiv.calls[0]["params"]["search_query"].startswith("(cat:cs.IR OR cat:cs.CL) AND submittedDate:")


def test_no_cross_lists_in_a_date_range_keeps_papers_whose_primary_is_asked_for(arxiv, clock):
    arxiv.papers = papers(2, cats=["cs.IR", "cs.LG"]) + papers(3, cats=["cs.CL", "cs.IR"], start=2)
    assert len(get(clock, "cs.IR", date="2025-10-14").papers) == 5
    assert [p.id for p in get(clock, "cs.IR", date="2025-10-14", cross_lists=False).papers] == [
        "2510.20000",
        "2510.20001",
    ]


def test_a_day_without_papers_is_empty_not_an_error(arxiv, clock):
    result = get(clock, "cs.IR", date="2025-10-11")
    assert result.papers == [] and result.note == "cs.IR 2025-10-11: no papers submitted (UTC)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"date": "2025-10-32"}, "--date '2025-10-32': not a date"),
        ({"since": "2025-10-14", "until": "2025-10-01"}, "is after --until"),
        ({"until": "2025-10-14"}, "--until needs --since"),
        ({"date": "2025-10-14", "since": "2025-10-01"}, "not both"),
        ({"ids": ["2510.12815"], "date": "2025-10-14"}, "leave out --date"),
    ],
)
def test_bad_date_options_are_config_errors(arxiv, clock, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        get(clock, "cs.IR", **kwargs)
    assert arxiv.calls == []


def test_a_bad_category_is_a_config_error(arxiv, clock):
    with pytest.raises(ConfigError, match="not an arXiv category"):
        get(clock, "cs IR")


# ---------------------------------------------------------------------------- ids


def test_ids_drop_versions_and_keep_the_order_asked(arxiv, clock):
    result = get(clock, ids=["2510.20003v2", "2510.20001", "2510.20003"])
    assert [p.id for p in result.papers] == ["2510.20003", "2510.20001"]
    assert arxiv.calls[0]["params"]["id_list"] == "2510.20003,2510.20001"


def test_an_id_list_again_sends_no_request(arxiv, clock):
    get(clock, ids=["2510.20003"])
    assert get(clock, ids=["2510.20003"]).requests == 0 and len(arxiv.calls) == 1


def test_old_style_ids_are_accepted_end_to_end(arxiv, clock):
    arxiv.fail_next(200, recorded("api_old_style.xml"))
    [paper] = fetch_papers(ids=["cs/0112017v1"], clock=clock, sleep=clock.sleep)
    assert arxiv.calls[0]["params"]["id_list"] == "cs/0112017"
    assert (paper.id, paper.url) == ("cs/0112017", "https://arxiv.org/abs/cs/0112017")
    assert paper.authors == ["Jane Doe", "John Roe"] and paper.categories[0] == "cs.IR"


def test_id_forms_parse_to_the_bare_id():
    forms = [
        "cs/0112017",
        "cs/0112017v3",
        "arXiv:cs/0112017",
        "oai:arXiv.org:cs/0112017v1",
        "https://arxiv.org/abs/cs/0112017v2",
    ]
    assert {arxiv_id(f) for f in forms} == {"cs/0112017"}
    assert arxiv_id("math.GT/0309136v1") == "math.GT/0309136"


def test_ids_not_on_arxiv_are_named_in_the_note(arxiv, clock):
    result = get(clock, ids=["2510.20001", "2510.99999"])
    assert [p.id for p in result.papers] == ["2510.20001"]
    assert result.note == "1 of 2 papers by id (not found: 2510.99999)"


def test_a_malformed_id_is_refused_before_any_request(arxiv, clock):
    with pytest.raises(ConfigError, match="'2510.1' is not an arXiv id"):
        get(clock, ids=["2510.1"])
    assert arxiv.calls == []


@pytest.mark.parametrize("source", ["arxiv:2505.20730,garbage", "arxiv:garbage,2505.20730v2"])
def test_a_bad_part_of_an_id_list_is_blamed_not_the_valid_id(source):
    with pytest.raises(ConfigError, match="^'garbage' is not an arXiv id"):
        parse_source(source)
    assert parse_source("arxiv:2505.20730,cs/0112017") == ([], ["2505.20730", "cs/0112017"])
    assert parse_source("arxiv:cs.IR,cs.CL") == (["cs.IR", "cs.CL"], [])


def test_an_api_error_entry_is_reported_not_read_as_no_papers(arxiv, clock):
    arxiv.fail_next(200, recorded("api_error.xml"))
    with pytest.raises(InputError, match="arXiv API error: incorrect id format for 1234.12345v9x"):
        get(clock, ids=["1234.12345"])


# ---------------------------------------------------------------------------- retries, partial results


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_503(arxiv, clock, status):
    arxiv.fail_next(status, "busy", retry_after=7)
    result = get(clock, "cs.IR", date="2025-10-14")
    assert len(result.papers) == 12 and result.requests == 4
    assert arxiv.calls[1]["t"] - arxiv.calls[0]["t"] >= 7


def test_without_retry_after_it_backs_off_at_least_3_seconds(arxiv, clock):
    arxiv.fail_next(500, "oops")
    get(clock, "cs.IR", date="2025-10-14")
    assert arxiv.calls[1]["t"] - arxiv.calls[0]["t"] >= 3


def test_an_unreachable_arxiv_is_a_fetch_error_after_the_retries(clock, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "3")
    with respx.mock() as router:
        route = router.get(url__startswith="https://rss.arxiv.org/").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(
            FetchError, match=r"rss.arxiv.org/atom/cs.IR: arXiv did not answer \(ConnectError: refused\) after 3 tries"
        ):
            get(clock, "cs.IR")
    assert route.call_count == 3


def test_a_4xx_answer_is_not_retried(arxiv, clock):
    arxiv.fail_next(400, recorded("api_error.xml"))
    with pytest.raises(InputError, match="HTTP 400: incorrect id format"):
        get(clock, ids=["2510.20001"])
    assert len(arxiv.calls) == 1


def test_a_partial_fetch_fails_with_counts_and_resumes_from_the_cache(arxiv, clock, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "2")
    real = arxiv.answer
    arxiv.answer = lambda path, params: (503, {}, "down") if params.get("start") == "10" else real(path, params)
    with pytest.raises(FetchError) as exc:
        get(clock, "cs.IR", date="2025-10-14")
    assert "did not answer (HTTP 503)" in str(exc.value) and "got 10 of 12 papers" in str(exc.value)
    arxiv.answer = real
    arxiv.calls.clear()
    result = get(clock, "cs.IR", date="2025-10-14")
    assert len(result.papers) == 12
    assert [c["params"]["start"] for c in arxiv.calls] == ["10"]  # pages 0 and 5 came from the cache


def test_an_empty_page_inside_the_results_is_asked_again_and_never_cached(arxiv, clock):
    arxiv.empty_pages = 1
    result = get(clock, "cs.IR", date="2025-10-14")
    assert len(result.papers) == 12
    assert [c["params"]["start"] for c in arxiv.calls] == ["0", "5", "5", "10"]


def test_a_page_that_stays_empty_is_an_incomplete_fetch(arxiv, clock):
    arxiv.empty_pages = 3
    with pytest.raises(FetchError, match="incomplete, got 5 of 12 papers"):
        get(clock, "cs.IR", date="2025-10-14")


# ---------------------------------------------------------------------------- politeness


def test_the_user_agent_names_paper_agent_its_version_and_the_contact(arxiv, clock, monkeypatch):
    from agent import __version__

    get(clock, "cs.IR", date="2025-10-14")
    assert arxiv.calls[0]["headers"]["user-agent"] == f"paper-agent/{__version__}"
    monkeypatch.setenv("PAPER_AGENT_CONTACT", "me@example.org")
    get(clock, "cs.IR", date="2025-10-13")
    assert arxiv.calls[-1]["headers"]["user-agent"] == f"paper-agent/{__version__} (+mailto:me@example.org)"


def test_endpoints_come_from_the_settings(clock, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_ARXIV_FEED_URL", "http://mirror.test/feeds/")
    with respx.mock() as router:
        route = router.get("http://mirror.test/feeds/cs.IR").mock(
            return_value=httpx.Response(200, text=recorded("daily_cs_IR.xml"))
        )
        assert len(get(clock, "cs.IR").papers) == 3
    assert route.call_count == 1


def test_today_is_the_clock_s_day_in_utc(arxiv, clock):
    assert clock() == EPOCH
    get(clock, "cs.IR", since="2026-01-04")
    assert arxiv.calls[0]["params"]["search_query"].endswith("[202601040000 TO 202601052359]")


def test_an_endpoint_that_is_not_a_url_is_a_config_error(clock, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_ARXIV_API_URL", "export.arxiv.org/api/query")
    with pytest.raises(ConfigError, match="PAPER_AGENT_ARXIV_API_URL='export.arxiv.org/api/query': expected an http"):
        get(clock, "cs.IR", date="2025-10-14")


# ---------------------------------------------------------------------------- limits


def test_a_server_that_stalls_byte_by_byte_hits_the_total_deadline(clock, monkeypatch):
    """httpx's timeout is per read: 1 byte every 0.2 s never trips a 1 s one, the deadline does."""
    monkeypatch.setenv("PAPER_AGENT_TIMEOUT", "1")
    monkeypatch.setenv("PAPER_AGENT_RETRY_ATTEMPTS", "1")
    with FakeArxiv(feed=papers(3)) as server:  # ~2 KB: 400 s at this pace
        server.drip = 0.2
        monkeypatch.setenv("PAPER_AGENT_ARXIV_FEED_URL", server.feed_url)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"no complete answer within 1 s \(PAPER_AGENT_TIMEOUT\)\) after 1 try"):
            get(clock, "cs.IR")
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_over_the_size_cap_is_refused_and_not_cached(clock, monkeypatch, chunked):
    monkeypatch.setattr("agent.inputs.arxiv_client.MAX_RESPONSE_BYTES", 50_000)
    body = recorded("daily_cs_IR.xml").replace("</summary>", "x" * 60_000 + "</summary>", 1).encode()
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if chunked:  # no Content-Length: the cap is checked as the bytes arrive
            return httpx.Response(200, content=iter([body[i : i + 8192] for i in range(0, len(body), 8192)]))
        return httpx.Response(200, content=body)

    with respx.mock() as router:
        router.get(url__startswith="https://rss.arxiv.org/").mock(side_effect=answer)
        for _ in range(2):
            with pytest.raises(InputError, match="over 50,000 bytes, the cap on one answer"):
                get(clock, "cs.IR")
    assert len(calls) == 2  # refused, so never cached

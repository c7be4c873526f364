"""The HTML digest page in a real browser (headless Debian chromium through selenium).

``paper-agent run examples/ hostile.jsonl -o today.html`` writes the page; the test opens it
from disk, uses the label, confidence and search controls and checks which papers are shown,
checks that hostile paper text is shown as text, and that with JavaScript off every paper is
there and no dead control is. Skipped, with the reason, only where chromium or its driver is
absent (CI's ``.ci/run`` installs both).
"""

from __future__ import annotations

import json
from pathlib import Path

import browser
import pytest

from agent.outputs import render_html
from agent.schema import PaperResult
from agent.taxonomy import load_taxonomy

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = {
    "id": "2599.00001",
    "title": "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script> "
    "$\\alpha$-Tuning by R\\'emy",
    "authors": ["J. R\\'emy", "<b>Mallory</b>"],
    "abstract": "We study a thing. Results at https://evil.example/x and www.evil.example, mail evil@example.com.",
    "url": "javascript:alert(1)",
}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The page the README's command writes (examples plus one hostile paper), and its rows."""
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("html")
    hostile = tmp / "hostile.jsonl"
    hostile.write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    env = {"PAPER_AGENT_CACHE_DIR": str(tmp / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp)}
    for out in ("today.html", "today.jsonl"):
        cmd = [sys.executable, "-m", "agent.cli", "run", str(ROOT / "examples"), str(hostile), "-o", str(tmp / out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=120)
        assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (tmp / "today.jsonl").read_text(encoding="utf-8").splitlines()]
    return tmp / "today.html", rows


@pytest.fixture(scope="module")
def driver():
    d = browser.start()
    yield d
    d.quit()


def shown(driver) -> list[str]:
    """Ids of the papers now displayed."""
    return [
        a.get_attribute("id").removeprefix("paper-")
        for a in driver.find_elements("css selector", "article.paper")
        if a.is_displayed()
    ]


def set_value(driver, element_id: str, value: str) -> None:
    """Set a control as a user would and fire the event the page listens to."""
    driver.execute_script(
        "var e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event('input', {bubbles: true}));",
        element_id,
        value,
    )


def test_page_filters_by_label_confidence_and_search(driver, page):
    path, rows = page
    driver.get(path.as_uri())
    assert sorted(shown(driver)) == sorted(r["id"] for r in rows)
    assert driver.find_element("id", "shown").text == f"Showing {len(rows)} of {len(rows)} papers"
    # Labels: keep only rag.
    for box in driver.find_elements("css selector", "input[name=label]"):
        if box.get_attribute("value") != "rag":
            box.click()
    rag = sorted(r["id"] for r in rows if r["primary"] == "rag")
    assert rag and sorted(shown(driver)) == rag
    assert not driver.find_element("id", "other").is_displayed()  # an emptied group is hidden
    assert driver.find_element("css selector", "#rag .count").text == str(len(rag))
    # Minimum confidence on top of the label filter.
    # (a range input snaps to its 0.05 step, so the floor is one of those).
    floor = int(sorted(r["confidence"] for r in rows if r["primary"] == "rag")[len(rag) // 2] * 20) / 20
    set_value(driver, "min-confidence", str(floor))
    kept = sorted(r["id"] for r in rows if r["primary"] == "rag" and r["confidence"] >= floor)
    assert sorted(shown(driver)) == kept and 0 < len(kept) < len(rag)
    # Every label back, no floor, then a text search on an author.
    for box in driver.find_elements("css selector", "input[name=label]"):
        if not box.is_selected():
            box.click()
    set_value(driver, "min-confidence", "0")
    driver.find_element("id", "search").send_keys("Lina Yao")
    assert sorted(shown(driver)) == sorted(r["id"] for r in rows if "Lina Yao" in r["authors"])
    assert len(shown(driver)) >= 1


def test_page_shows_hostile_text_as_text_and_latex_as_unicode(driver, page):
    path, _ = page
    driver.get(path.as_uri())
    article = driver.find_element("id", "paper-2599.00001")
    title = article.find_element("css selector", "h3").text
    assert "<script>document.title='pwned'</script>" in title and "α-Tuning by Rémy" in title
    assert driver.title == "paper-agent reading list"
    # The reader replaced the javascript: URL with the paper's arXiv page.
    assert article.find_element("css selector", "h3 a").get_attribute("href") == "https://arxiv.org/abs/2599.00001"
    assert article.find_elements("css selector", "img, script, h3 *:not(a), .authors *") == []
    assert "<b>Mallory</b>" in article.text
    assert article.find_element("css selector", ".id").text == "arXiv:2599.00001"
    assert len(driver.find_elements("css selector", "script")) == 1


def test_page_marks_low_confidence_and_shows_evidence(driver, tmp_path):
    results = [
        PaperResult(id="2501.00001", title="Sure", primary="rag", confidence=0.9, tldr="T1.", evidence="E one"),
        PaperResult(id="2501.00002", title="Unsure", primary="rag", confidence=0.3, tldr="T2.", secondary=["other"]),
    ]
    path = tmp_path / "small.html"
    path.write_text(render_html(results, load_taxonomy()), encoding="utf-8")
    driver.get(path.as_uri())
    sure, unsure = (driver.find_element("id", f"paper-2501.0000{n}") for n in (1, 2))
    assert "low confidence" in unsure.text and "low confidence" not in sure.text
    assert "Evidence: “E one”" in sure.text and "also other" in unsure.text
    set_value(driver, "min-confidence", "0.5")
    assert shown(driver) == ["2501.00001"]
    assert driver.find_element("id", "min-confidence-value").text == "0.50"


def test_page_reads_with_javascript_off(page):
    path, rows = page
    d = browser.start(javascript=False)
    try:
        d.get(path.as_uri())
        assert sorted(shown(d)) == sorted(r["id"] for r in rows)
        assert not d.find_element("id", "controls").is_displayed()  # no control that would do nothing
        assert d.find_element("css selector", "#rag .count").text == str(sum(r["primary"] == "rag" for r in rows))
    finally:
        d.quit()

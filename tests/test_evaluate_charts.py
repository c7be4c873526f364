"""The SVG pictures: well-formed, one shape per number, and every text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agent.evaluate import NO_ANSWER
from agent.evaluate.charts import REL_PLOT_H, confusion_heatmap, f1_bars, reliability_diagram
from agent.evaluate.metrics import ConfusionMatrix
from agent.evaluate.stats import ClassMetrics, calibration_table

NS = {"svg": "http://www.w3.org/2000/svg"}
EVIL = "<script>alert(1)</script>"

CM = ConfusionMatrix(
    rows=["rag", "other"],
    columns=["rag", "other", NO_ANSWER],
    counts=[[7, 1, 0], [2, 15, 3]],
)


def stats(label: str, f1: float, ci: tuple[float, float] | None = (0.5, 0.9)) -> ClassMetrics:
    lo, hi = ci if ci else (None, None)
    return ClassMetrics(
        label=label, precision=f1, recall=f1, f1=f1, support=5, predicted=5, f1_ci_low=lo, f1_ci_high=hi
    )


def test_heatmap_has_one_cell_per_count_holding_that_count() -> None:
    svg = ET.fromstring(confusion_heatmap(CM))
    cells = svg.findall(".//svg:g[@class='cell']", NS)
    assert len(cells) == len(CM.rows) * len(CM.columns)
    texts = {(c.get("data-gold"), c.get("data-predicted")): c.find("svg:text", NS).text for c in cells}
    assert texts[("other", NO_ANSWER)] == "3" and texts[("rag", "rag")] == "7"
    assert svg.find("svg:title", NS).text == "Confusion matrix"


def test_heatmap_darkens_with_the_count() -> None:
    svg = ET.fromstring(confusion_heatmap(CM))
    fills = {c.find("svg:text", NS).text: c.find("svg:rect", NS).get("fill") for c in svg.iterfind(".//svg:g", NS)}
    assert fills["0"] == "#ffffff"
    assert sum(int(fills["15"][i : i + 2], 16) for i in (1, 3, 5)) < sum(
        int(fills["1"][i : i + 2], 16) for i in (1, 3, 5)
    )


def test_reliability_bar_heights_follow_accuracy() -> None:
    bins = calibration_table([0.15, 0.55, 0.58, 0.92, 0.95, 0.97], [False, True, False, True, True, False])
    svg = ET.fromstring(reliability_diagram(bins, ece=0.123))
    bars = svg.findall("svg:rect[@class='bar']", NS)
    expected = [b.accuracy for b in bins if b.count]
    assert [float(b.get("height")) for b in bars] == pytest.approx([a * REL_PLOT_H for a in expected], abs=0.01)
    assert [t.text for t in svg.findall("svg:text[@class='count']", NS)] == ["1", "2", "3"]
    assert svg.find("svg:line[@class='diagonal']", NS) is not None
    assert "ECE 0.123" in svg.find("svg:title", NS).text


def test_f1_bars_draw_a_bar_per_run_and_label_with_ci_whiskers() -> None:
    a = [stats("rag", 0.8), stats("other", 0.6, ci=None)]
    b = [stats("rag", 0.4), stats("other", 0.9)]
    svg = ET.fromstring(f1_bars([("A", a), ("B", b)]))
    bars = svg.findall("svg:rect[@class='bar']", NS)
    widths = [float(r.get("width")) for r in bars]
    assert len(bars) == 4 and widths[0] == pytest.approx(2 * widths[1])  # rag A 0.8 vs rag B 0.4
    assert len(svg.findall("svg:path[@class='ci']", NS)) == 3  # "other" in A has no CI
    assert [t.text for t in svg.findall("svg:text[@class='legend']", NS)] == ["A", "B"]


def test_every_picture_escapes_its_text() -> None:
    cm = ConfusionMatrix(rows=[EVIL], columns=[EVIL, NO_ANSWER], counts=[[1, 0]])
    heat = confusion_heatmap(cm, title=EVIL)
    bars = f1_bars([(EVIL, [stats(EVIL, 0.5)]), ("B", [])], title=EVIL)
    reliability = reliability_diagram(calibration_table([0.5], [True]), title=EVIL)
    for text in (heat, bars, reliability):
        assert "<script>" not in text
        assert ET.fromstring(text).find("svg:title", NS).text == EVIL  # well-formed, text intact
    texts = [t.text for t in ET.fromstring(heat).iter(f"{{{NS['svg']}}}text")]
    assert texts.count(EVIL) == 2  # row and column label
    assert ET.fromstring(bars).find("svg:text[@class='legend']", NS).text == EVIL

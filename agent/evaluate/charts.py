"""Pictures for the HTML reports, drawn as inline SVG strings.

Pure functions: data in, one ``<svg>`` element out, with no scripts, web fonts or external
files, so a report stays one self-contained page that opens offline and can be mailed or
archived. Every text is escaped (labels and run names come from files people write), every SVG
is well-formed XML (tests parse it), and each one has a ``<title>`` that screen readers announce,
axes named in words and a tooltip on every bar and cell with the exact numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from agent.evaluate.metrics import NO_ANSWER, ConfusionMatrix
from agent.evaluate.stats import CalibrationBin, ClassMetrics

SVG_NS = "http://www.w3.org/2000/svg"
INK = "#1f2328"
MUTED = "#57606a"
GRID = "#d0d7de"
NO_ANSWER_RED = "#cf222e"
SERIES_COLOURS = ("#0969da", "#bc4c00", "#8250df")
"""Blue, orange, purple: told apart under the common colour-vision deficiencies (no red/green pair)."""
CHAR_W = 6.6
"""Rough width of one 11px character, to size margins for label text without measuring fonts."""

REL_PLOT_W, REL_PLOT_H = 300, 220
"""Plot area of the reliability diagram: a bar of accuracy a is a * REL_PLOT_H high."""
REL_LEFT, REL_TOP, REL_RIGHT, REL_BOTTOM = 52, 24, 16, 46
HEAT_CELL = 40
F1_PLOT_W = 300
F1_BAR_H = 12


def _f(x: float) -> str:
    """A coordinate with at most two decimals, so the SVG stays small and stable in diffs."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(
    x: float, y: float, s: str, *, size: int = 11, anchor: str = "start", fill: str = INK, extra: str = ""
) -> str:
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(s)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, extra: str = "") -> str:
    return f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{stroke}"{extra}/>'


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> str:
    """The outer element: ``role="img"`` plus a ``<title>`` make it one named image to a screen reader."""
    return (
        f'<svg xmlns="{SVG_NS}" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" role="img" font-family="system-ui,sans-serif">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def figure(svg: str, caption: str) -> str:
    """Wrap a chart with a caption (escaped) that says how to read it."""
    return f'<figure class="chart">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


# --------------------------------------------------------------------------- reliability


def reliability_diagram(
    bins: Sequence[CalibrationBin], *, title: str = "Reliability diagram", ece: float | None = None
) -> str:
    """Accuracy of each confidence bin as a bar, against the dashed diagonal of perfect calibration.

    A bar below the diagonal means the backend is over-confident in that range. The number above
    each bar is how many papers it holds: a bar of 2 papers is noise, one of 80 is not. Empty
    bins draw no bar.
    """

    def px(v: float) -> float:
        return REL_LEFT + v * REL_PLOT_W

    def py(v: float) -> float:
        return REL_TOP + (1 - v) * REL_PLOT_H

    body: list[str] = []
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        body.append(_line(px(0), py(tick), px(1), py(tick)))
        body.append(_text(px(0) - 6, py(tick) + 4, f"{tick:.1f}", size=10, anchor="end", fill=MUTED))
        body.append(_text(px(tick), py(0) + 14, f"{tick:.1f}", size=10, anchor="middle", fill=MUTED))
    for b in bins:
        if not b.count:
            continue
        acc = b.accuracy or 0.0
        tip = (
            f"confidence {b.lo:.1f}–{b.hi:.1f}: {b.count} papers, accuracy {100 * acc:.1f}%, "
            f"mean confidence {b.mean_confidence or 0.0:.2f}"
        )
        x, width = px(b.lo) + 1.5, (b.hi - b.lo) * REL_PLOT_W - 3
        body.append(
            f'<rect class="bar" x="{_f(x)}" y="{_f(py(acc))}" width="{_f(width)}" '
            f'height="{_f(acc * REL_PLOT_H)}" fill="{SERIES_COLOURS[0]}" fill-opacity="0.85">'
            f"<title>{escape(tip)}</title></rect>"
        )
        count = _text(x + width / 2, py(acc) - 3, str(b.count), size=10, anchor="middle", extra=' class="count"')
        body.append(count)
    body.append(_line(px(0), py(0), px(1), py(1), MUTED, ' class="diagonal" stroke-dasharray="5 4" stroke-width="1.5"'))
    body.append(_line(px(0), py(0), px(1), py(0), INK))
    body.append(_line(px(0), py(0), px(0), py(1), INK))
    body.append(_text(px(0.5), py(0) + 34, "confidence (bin)", anchor="middle"))
    mid_y = py(0.5)
    body.append(_text(14, mid_y, "accuracy", anchor="middle", extra=f' transform="rotate(-90 14 {_f(mid_y)})"'))
    full_title = title if ece is None else f"{title} (ECE {ece:.3f})"
    return _svg(REL_LEFT + REL_PLOT_W + REL_RIGHT, REL_TOP + REL_PLOT_H + REL_BOTTOM, full_title, body)


# --------------------------------------------------------------------------- confusion heat map


def _column_name(column: str) -> str:
    return f"∅ {column}" if column == NO_ANSWER else column


def _heat_fill(count: int, peak: int) -> tuple[str, str]:
    """(cell fill, text colour) on one light-to-dark blue scale; a floor keeps a count of 1 visible."""
    if not count or not peak:
        return "#ffffff", INK
    t = 0.15 + 0.85 * count / peak
    light, dark = (221, 244, 255), (10, 48, 105)
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(light, dark))
    return f"#{r:02x}{g:02x}{b:02x}", "#ffffff" if t > 0.5 else INK


def confusion_heatmap(cm: ConfusionMatrix, *, title: str = "Confusion matrix") -> str:
    """Gold rows against predicted columns (the last is 'no answer'), count in every cell.

    One colour scale for every cell (darker = more papers) so the picture reads in greyscale
    too; the diagonal (right answers) is outlined and the no-answer column sits behind a red
    dashed line, so neither depends on telling hues apart.
    """
    columns = [_column_name(c) for c in cm.columns]
    longest_row = max((len(r) for r in cm.rows), default=0)
    slant = max((len(c) for c in columns), default=0) * CHAR_W * 0.72
    left, top = 34 + longest_row * CHAR_W, 12 + slant
    width = left + len(columns) * HEAT_CELL + slant + 8
    height = top + len(cm.rows) * HEAT_CELL + 34
    peak = max((c for row in cm.counts for c in row), default=0)
    body: list[str] = []
    for j, name in enumerate(columns):
        x, y = left + (j + 0.5) * HEAT_CELL, top - 6
        body.append(_text(x, y, name, extra=f' transform="rotate(-45 {_f(x)} {_f(y)})"'))
    for i, (gold, counts) in enumerate(zip(cm.rows, cm.counts)):
        y = top + i * HEAT_CELL
        body.append(_text(left - 6, y + HEAT_CELL / 2 + 4, gold, anchor="end"))
        for j, (column, count) in enumerate(zip(cm.columns, counts)):
            body.append(_heat_cell(left + j * HEAT_CELL, y, gold, column, count, peak))
    if NO_ANSWER in cm.columns:
        x = left + cm.columns.index(NO_ANSWER) * HEAT_CELL
        body.append(
            _line(
                x,
                top,
                x,
                top + len(cm.rows) * HEAT_CELL,
                NO_ANSWER_RED,
                ' class="noanswer" stroke-width="2" stroke-dasharray="4 3"',
            )
        )
    grid_bottom = top + len(cm.rows) * HEAT_CELL
    body.append(_text(left + len(columns) * HEAT_CELL / 2, grid_bottom + 22, "predicted label", anchor="middle"))
    mid_y = top + len(cm.rows) * HEAT_CELL / 2
    body.append(_text(12, mid_y, "gold label", anchor="middle", extra=f' transform="rotate(-90 12 {_f(mid_y)})"'))
    return _svg(width, height, title, body)


def _heat_cell(x: float, y: float, gold: str, column: str, count: int, peak: int) -> str:
    fill, ink = _heat_fill(count, peak)
    stroke = f'stroke="{INK}" stroke-width="2.5"' if column == gold else f'stroke="{GRID}"'
    tip = f"gold {gold}, predicted {_column_name(column)}: {count} papers"
    return (
        f'<g class="cell" data-gold="{escape(gold)}" data-predicted="{escape(column)}">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{_f(x + 1)}" y="{_f(y + 1)}" width="{HEAT_CELL - 2}" height="{HEAT_CELL - 2}" '
        f'fill="{fill}" {stroke}/>'
        + _text(x + HEAT_CELL / 2, y + HEAT_CELL / 2 + 4, str(count), size=12, anchor="middle", fill=ink)
        + "</g>"
    )


# --------------------------------------------------------------------------- per-label F1


def f1_bars(series: Sequence[tuple[str, Sequence[ClassMetrics]]], *, title: str = "Per-label F1") -> str:
    """Horizontal F1 bars per label, one bar per run, with the 95% bootstrap CI as a whisker.

    ``series`` is ``[(run name, per-class metrics), ...]``: one run for a report, two (A, B)
    for a comparison. Overlapping whiskers mean the data do not tell the two F1s apart.
    """
    labels = list(dict.fromkeys(c.label for _, stats in series for c in stats))
    by_label = [{c.label: c for c in stats} for _, stats in series]
    group_h = max(len(series), 1) * F1_BAR_H + 10
    legend_h = 20 if len(series) > 1 else 0
    left = 14 + max((len(lab) for lab in labels), default=0) * CHAR_W
    top = 10 + legend_h
    width = left + F1_PLOT_W + 24
    height = top + max(len(labels), 1) * group_h + 44

    def px(v: float) -> float:
        return left + v * F1_PLOT_W

    body: list[str] = []
    plot_bottom = top + max(len(labels), 1) * group_h
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(_line(px(tick), top, px(tick), plot_bottom))
        body.append(_text(px(tick), plot_bottom + 14, f"{tick:g}", size=10, anchor="middle", fill=MUTED))
    x = left
    for j, (name, _) in enumerate(series if len(series) > 1 else ()):
        colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
        body.append(f'<rect x="{_f(x)}" y="4" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, 14, name, extra=' class="legend"'))
        x += 36 + len(name) * CHAR_W
    width = max(width, x)
    for i, label in enumerate(labels):
        y0 = top + i * group_h + 5
        body.append(_text(left - 6, y0 + group_h / 2, label, anchor="end"))
        for j, (name, _) in enumerate(series):
            stats = by_label[j].get(label)
            if stats is not None:
                body.append(_f1_bar(stats, name, y0 + j * F1_BAR_H, SERIES_COLOURS[j % len(SERIES_COLOURS)], px))
    body.append(_text(px(0.5), plot_bottom + 34, "F1 (bar) with 95% bootstrap CI (whisker)", anchor="middle"))
    return _svg(width, height, title, body)


def _f1_bar(stats: ClassMetrics, run: str, y: float, colour: str, px: Callable[[float], float]) -> str:
    h = F1_BAR_H - 2
    ci = ""
    tip = f"{stats.label}, {run}: F1 {stats.f1:.3f}"
    if stats.f1_ci_low is not None and stats.f1_ci_high is not None:
        lo, hi, mid = px(stats.f1_ci_low), px(stats.f1_ci_high), y + h / 2
        tip += f" (95% CI {stats.f1_ci_low:.3f}–{stats.f1_ci_high:.3f})"
        ci = (
            f'<path class="ci" d="M{_f(lo)} {_f(y + 1)}V{_f(y + h - 1)}M{_f(lo)} {_f(mid)}H{_f(hi)}'
            f'M{_f(hi)} {_f(y + 1)}V{_f(y + h - 1)}" stroke="{INK}" stroke-width="1.2" fill="none"/>'
        )
    tip += f", support {stats.support}"
    return (
        f'<rect class="bar" x="{_f(px(0))}" y="{_f(y)}" width="{_f(px(stats.f1) - px(0))}" height="{h}" '
        f'fill="{colour}" fill-opacity="0.85"><title>{escape(tip)}</title></rect>{ci}'
    )

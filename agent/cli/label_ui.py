"""The terminal drawing of ``paper-agent label`` (standard-library ``curses``).

Only drawing and key reading live here; what a key does is ``LabelSession.press``
(``agent/labeling.py``), which is tested without a terminal.
"""

from __future__ import annotations

import curses
import textwrap
from typing import Any

from agent.labeling import KEY_NOTE, KEY_QUIT, KEY_SECONDARY, KEY_SKIP, KEY_UNDO, LabelSession, label_keys

SCROLL_KEYS = {"j": 1, "k": -1, "KEY_DOWN": 1, "KEY_UP": -1, "KEY_NPAGE": 10, "KEY_PPAGE": -10}


def run_ui(session: LabelSession, backend_name: str = "") -> None:
    """Label until the queue is done or the user quits (``q``)."""
    curses.wrapper(_loop, session, backend_name)


def _cursor(visible: int) -> None:
    """Show or hide the cursor where the terminal can (some cannot: not an error)."""
    try:
        curses.curs_set(visible)
    except curses.error:
        pass


def _loop(screen: Any, session: LabelSession, backend_name: str) -> None:
    _cursor(0)
    scroll, message = 0, ""
    while True:
        _draw(screen, session, backend_name, scroll, message)
        key = screen.getkey()
        if key in SCROLL_KEYS:
            scroll = max(0, scroll + SCROLL_KEYS[key])
            continue
        if key == "KEY_RESIZE":
            continue
        before = session.pos
        what = session.press(key)
        if what == "quit":
            return
        if what == "note":
            session.note = _read_line(screen, "note: ", session.note)
        message = {"undo": "undone", "label": "saved", "skip": "skipped", "ignored": ""}.get(what, "")
        if session.pos != before:
            scroll = 0


def _put(screen: Any, y: int, text: str, attr: int = 0) -> int:
    """Write one line (cut to the width) and return the next row; nothing below the screen."""
    height, width = screen.getmaxyx()
    if 0 <= y < height:
        screen.addnstr(y, 0, text, max(width - 1, 1), attr)
    return y + 1


def _draw(screen: Any, session: LabelSession, backend_name: str, scroll: int, message: str) -> None:
    screen.erase()
    height, width = screen.getmaxyx()
    wrap = max(width - 2, 20)
    done = session.already + session.labelled
    head = f"paper-agent label: {done} labelled, {max(len(session.queue) - session.pos, 0)} to go  {message}"
    y = _put(screen, 0, head, curses.A_REVERSE)
    cand = session.current
    keys = label_keys(session.taxonomy)
    footer = _footer(session, keys, wrap)
    if cand is None:
        _put(screen, 2, "All papers are labelled. u: undo the last one, q: quit.", curses.A_BOLD)
        screen.refresh()
        return
    p = cand.paper
    for line in textwrap.wrap(p.title, wrap)[:3]:
        y = _put(screen, y, line, curses.A_BOLD)
    authors = ", ".join(p.authors[:8]) + (" et al." if len(p.authors) > 8 else "")
    y = _put(screen, y, f"{p.id}  {authors}"[:wrap])
    y = _put(screen, y, f"guess ({backend_name}): {cand.guess or '-'} {cand.confidence:.2f}   [{cand.selection}]")
    body = textwrap.wrap(p.abstract, wrap)
    room = max(height - y - len(footer) - 1, 1)
    start = min(scroll, max(len(body) - room, 0))
    for line in body[start : start + room]:
        y = _put(screen, y, line)
    if len(body) > room:
        _put(screen, y, f"-- abstract lines {start + 1}-{min(start + room, len(body))} of {len(body)} (j/k) --")
    row = height - len(footer)
    for line in footer:
        row = _put(screen, row, line)
    screen.refresh()


def _footer(session: LabelSession, keys: dict[str, str], wrap: int) -> list[str]:
    """The label definitions with their keys, the pending secondary / note, and the command keys."""
    lines = []
    for key, name in keys.items():
        lines.append(f"{key} {name}: {session.taxonomy.label(name).description}"[:wrap])
    pending = f"secondary: {', '.join(session.secondary) or '-'}   note: {session.note or '-'}"
    if session.awaiting_secondary:
        pending = "secondary: press a label key to add or remove it"
    lines.append(pending[:wrap])
    lines.append(
        f"keys: label key = primary (saves)  {KEY_SECONDARY}+key secondary  {KEY_NOTE} note  "
        f"{KEY_SKIP} skip  {KEY_UNDO} undo  {KEY_QUIT} quit  j/k scroll"[:wrap]
    )
    return lines


def _read_line(screen: Any, prompt: str, current: str) -> str:
    """One line of text typed at the bottom row (Enter ends it; empty keeps ``current``)."""
    height, width = screen.getmaxyx()
    screen.move(height - 1, 0)
    screen.clrtoeol()
    screen.addnstr(height - 1, 0, prompt, width - 1)
    curses.echo()
    _cursor(1)
    try:
        raw = screen.getstr(height - 1, len(prompt), max(width - len(prompt) - 1, 1))
    finally:
        curses.noecho()
        _cursor(0)
    text = raw.decode("utf-8", "replace").strip()
    return text or current

"""What real OpenAI-compatible servers send back, and the one place it is normalised.

Local servers (Ollama, llama.cpp, vLLM with small models) answer a structured request with
shapes our own fake server never sends: the JSON inside a code fence or between sentences, a
``<think>`` block before it, a label in other casing, ``"85%"`` for a confidence, the tool call
written out as text. Each is handled here, in two layers:

- ``repair_completion`` runs on every chat completion before instructor parses it (from the
  ``completion:response`` hook). It rewrites the message only where the intended answer is
  unambiguous (exactly one JSON object, exactly one call of our tool) and otherwise leaves a
  ``ReplyNote`` naming what came back, which becomes the paper's ``invalid``/``error`` reason.
- ``ReplyNormaliser`` runs inside the response model (a ``mode="before"`` validator), so it
  applies the same field mapping in every mode: labels matched by the taxonomy's own names
  ignoring case, spaces, hyphens and underscores; ``"85%"`` -> 0.85; a string ``secondary`` ->
  a list. A number above 1 is *not* rescaled (0-10 or 0-100? a guess), and anything that does
  not map stays as it came, so validation names it and the paper is ``invalid``: never a label
  outside the taxonomy.

README ("What real servers send back") documents the mapping; ``tests/quirks/`` replays each
case, with its source, through respx.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SEPARATORS_RE = re.compile(r"[\s\-_/.]+")
THINK_CLOSE_RE = re.compile(r"^.*?</think>\s*", re.DOTALL | re.IGNORECASE)
THINK_OPEN_RE = re.compile(r"^\s*<think>", re.IGNORECASE)
TOOL_CALL_TAG_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
HTML_RE = re.compile(r"^\s*(?:<!doctype html|<html|<head|<body)", re.IGNORECASE)
TITLE_RE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
MAX_SCAN = 200  # opening braces tried when looking for JSON objects inside prose


def snippet(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters, quoted: for reasons a user reads."""
    flat = re.sub(r"\s+", " ", text).strip()
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


# ---------------------------------------------------------------------------- field mapping


def label_key(text: str) -> str:
    """``"Generative Rec"``, ``"generative-rec"`` and ``"GENERATIVE_REC"`` -> ``generative_rec``."""
    return SEPARATORS_RE.sub("_", text.strip().strip("`'\"").lower()).strip("_")


class ReplyNormaliser:
    """The documented field mapping, driven by the taxonomy's label names (never a guess)."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self._by_key = {label_key(name): name for name in self.labels}

    def label(self, value: Any) -> Any:
        """The taxonomy label ``value`` spells, or ``value`` unchanged (validation rejects it)."""
        if isinstance(value, str):
            return self._by_key.get(label_key(value), value)
        return value

    def secondary(self, value: Any) -> Any:
        """``None`` -> ``[]``; ``"rag, rl_rec"`` -> ``["rag", "rl_rec"]`` (labels hold no commas)."""
        if value is None:
            return []
        if isinstance(value, str):
            return [self.label(part) for part in re.split(r"[,;]", value) if part.strip()]
        if isinstance(value, list):
            return [self.label(item) for item in value]
        return value

    @staticmethod
    def confidence(value: Any) -> Any:
        """``"0.85"`` -> 0.85, ``"85%"`` -> 0.85. A number above 1 is left alone, so it fails."""
        if isinstance(value, str):
            match = PERCENT_RE.match(value)
            if match and float(match.group(1)) <= 100:
                return round(float(match.group(1)) / 100, 6)
            try:
                number = float(value.strip())
            except ValueError:
                return value
            return number if math.isfinite(number) else value
        return value

    def fields(self, data: Any) -> Any:
        """Apply the mapping to a parsed reply; raise ``ValueError`` for an echoed schema."""
        if not isinstance(data, dict):
            return data
        if looks_like_schema(data):
            keys = ", ".join(sorted(data)[:6])
            raise ValueError(
                f"the reply is the JSON schema echoed back (keys: {keys}), not an answer; "
                "return the values for primary, secondary, confidence, evidence and tldr"
            )
        out = dict(data)
        if "primary" in out:
            out["primary"] = self.label(out["primary"])
        if "secondary" in out:
            out["secondary"] = self.secondary(out["secondary"])
        if "confidence" in out:
            out["confidence"] = self.confidence(out["confidence"])
        return out


def looks_like_schema(data: dict[str, Any]) -> bool:
    """A JSON Schema for the reply, not an instance of it (small models echo the prompt's schema)."""
    if "primary" in data or not isinstance(data.get("properties"), dict):
        return False
    return data.get("type") == "object" or any(k in data for k in ("required", "$defs", "title", "$schema"))


# ---------------------------------------------------------------------------- JSON in text


def json_objects(text: str) -> list[tuple[dict[str, Any], str]]:
    """Every top-level JSON object inside ``text`` (fences, prose around it), with its source."""
    decoder = json.JSONDecoder()
    found: list[tuple[dict[str, Any], str]] = []
    i, tried = 0, 0
    while tried < MAX_SCAN:
        i = text.find("{", i)
        if i < 0:
            break
        tried += 1
        try:
            value, end = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError):
            i += 1
            continue
        if isinstance(value, dict):
            found.append((value, text[i:end]))
        i = end
    return found


def _distinct(objects: Iterable[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str]]:
    seen: list[tuple[dict[str, Any], str]] = []
    for obj, src in objects:
        if all(obj != other for other, _ in seen):
            seen.append((obj, src))
    return seen


def parses_as_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


# ---------------------------------------------------------------------------- whole replies


@dataclass
class ReplyNote:
    """What came back, when it is not a clean answer. ``fatal``: the endpoint, not the model,
    is at fault (an error object or a web page with status 200), so no re-ask can help."""

    text: str
    fatal: bool = False
    refusal: bool = False  # the model declined: re-asking the same prompt will not help


@dataclass
class ReplyLog:
    """Per-paper record the backend's hooks fill: which mode was asked, one note per reply."""

    tool_name: str | None = None
    replies: int = 0
    notes: list[ReplyNote | None] = field(default_factory=list)

    def expect(self, request: dict[str, Any]) -> None:
        tools = request.get("tools") or []
        try:
            self.tool_name = tools[0]["function"]["name"] if tools else None
        except (KeyError, IndexError, TypeError):
            self.tool_name = None

    @property
    def last(self) -> ReplyNote | None:
        return self.notes[-1] if self.notes else None


def describe_body(text: str) -> str:
    """A non-API body in a few words: an HTML page by its title, anything else by its start."""
    if HTML_RE.match(text) or "<html" in text[:500].lower():
        title = TITLE_RE.search(text)
        name = snippet(title.group(1), 60) if title else "without a title"
        return f"an HTML page {name} (a proxy, gateway or login page answered, not the model server)"
    if not text.strip():
        return "an empty body"
    return f"a body that is not JSON: {snippet(text, 60)}"


def describe_status_error(exc: BaseException) -> str | None:
    """``HTTP 502 from the endpoint: an HTML page '502 Bad Gateway' ...`` for non-API error bodies."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None)
    if response is None or status is None:
        return None
    try:
        text = response.text
    except Exception:  # a streamed or closed body: keep the SDK's message
        return None
    if isinstance(getattr(exc, "body", None), dict) or parses_as_object(text):
        return None  # a proper API error object: the SDK's message already says it
    return f"HTTP {status} from the endpoint: {describe_body(text)}"


def _tool_call(name: str, arguments: str, ident: str) -> Any:
    from openai.types.chat import ChatCompletionMessageFunctionToolCall

    return ChatCompletionMessageFunctionToolCall.model_validate(
        {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}
    )


def _text_tool_calls(content: str) -> list[tuple[str, Any]]:
    """(name, arguments) of tool calls written into the content as text (Hermes ``<tool_call>``
    tags, ``{"name", "arguments"|"parameters"}``, or ``{"type": "function", "function": {...}}``)."""
    blocks = TOOL_CALL_TAG_RE.findall(content) or [content]
    calls: list[tuple[str, Any]] = []
    for block in blocks:
        for obj, _ in json_objects(block):
            function = obj.get("function")
            inner: dict[str, Any] = function if isinstance(function, dict) else obj
            name = inner.get("name")
            args = inner.get("arguments", inner.get("parameters"))
            if isinstance(name, str) and args is not None:
                calls.append((name, args))
    return calls


def repair_completion(response: Any, log: ReplyLog | None) -> ReplyNote | None:
    """Rewrite ``response`` in place where the answer is unambiguous; else say what came back."""
    if isinstance(response, str):  # the SDK hands back a non-JSON body as text
        return ReplyNote(f"the endpoint answered HTTP 200 with {describe_body(response)}", fatal=True)
    choices = getattr(response, "choices", None)
    if not choices:
        error = getattr(response, "error", None)
        if error:
            detail = error.get("message") if isinstance(error, dict) else str(error)
            kind = error.get("type") or error.get("code") if isinstance(error, dict) else None
            suffix = f" ({kind})" if kind else ""
            return ReplyNote(
                f"the endpoint answered HTTP 200 with an error object: {snippet(str(detail), 160)}{suffix}", fatal=True
            )
        return ReplyNote("the endpoint answered HTTP 200 with no choices (not a chat completion)", fatal=True)
    message = getattr(choices[0], "message", None)
    if message is None:
        return ReplyNote("the endpoint answered a choice without a message", fatal=True)
    refusal = getattr(message, "refusal", None)
    if refusal:
        return ReplyNote(f"the model refused: {snippet(str(refusal), 160)}", refusal=True)
    tool_name = log.tool_name if log else None
    content = message.content if isinstance(message.content, str) else None
    note: ReplyNote | None = None
    if content is not None:
        content, note = _strip_think(content)
        message.content = content
    if getattr(choices[0], "finish_reason", None) == "length":
        return note  # instructor reports the truncation; nothing to rescue
    if tool_name:
        return _repair_tools(message, tool_name, content) or note
    if note is not None:
        return note
    return _repair_json_content(message, content)


def _strip_think(content: str) -> tuple[str, ReplyNote | None]:
    """Drop reasoning before ``</think>`` (opening tag present or not, as R1 templates prefill it)."""
    if "</think>" in content.lower():
        return THINK_CLOSE_RE.sub("", content, count=1), None
    if THINK_OPEN_RE.match(content):
        return content, ReplyNote(
            f"the reply is an unclosed <think> block (reasoning that never reached an answer): {snippet(content)}"
        )
    return content, None


def _repair_json_content(message: Any, content: str | None) -> ReplyNote | None:
    if not content or not content.strip():
        if getattr(message, "tool_calls", None):
            names = [tc.function.name for tc in message.tool_calls]
            return ReplyNote(f"the model called tool(s) {names} instead of answering in the content")
        return ReplyNote("the reply is empty (no content)")
    if parses_as_object(content):
        return None
    raw = _with_raw_controls(content)
    if raw is not None:
        message.content = raw
        return None
    objects = _distinct(json_objects(content))
    if len(objects) == 1:
        message.content = objects[0][1]  # fence or prose around exactly one object: unambiguous
        return None
    if not objects:
        return ReplyNote(f"the reply is not JSON: {snippet(content)}")
    return ReplyNote(f"the reply holds {len(objects)} different JSON objects; which one is the answer is ambiguous")


def _repair_tools(message: Any, tool_name: str, content: str | None) -> ReplyNote | None:
    calls = list(getattr(message, "tool_calls", None) or [])
    if calls:
        ours = [c for c in calls if getattr(getattr(c, "function", None), "name", None) == tool_name]
        if not ours:
            names = [getattr(getattr(c, "function", None), "name", "?") for c in calls]
            message.tool_calls = None
            return ReplyNote(f"the model called tool {', '.join(map(repr, names))}, not {tool_name!r}")
        parsed = [_loads(c.function.arguments) for c in ours]
        if len(ours) > 1 and any(p is None or p != parsed[0] for p in parsed):
            message.tool_calls = None
            return ReplyNote(
                f"the model made {len(ours)} {tool_name} calls with different arguments; "
                "which one is the answer is ambiguous"
            )
        chosen = ours[0]
        raw = _with_raw_controls(chosen.function.arguments) if parsed[0] is None else None
        if raw is not None:
            chosen.function.arguments = raw
        elif parsed[0] is None and isinstance(chosen.function.arguments, str):
            objects = _distinct(json_objects(chosen.function.arguments))
            if len(objects) == 1:
                chosen.function.arguments = objects[0][1]
        message.tool_calls = [chosen]
        return None
    # No tool call: servers without a tool parser (vLLM without --tool-call-parser, llama.cpp
    # without --jinja) put the call, or the bare answer, in the content as text.
    if not content or not content.strip():
        return ReplyNote("the reply is empty (no tool call, no content)")
    candidates = _text_tool_calls(content)
    mine = [(n, a) for n, a in candidates if n == tool_name]
    if not candidates:
        mine = [(tool_name, obj) for obj, _ in json_objects(content) if "primary" in obj]
    distinct: list[Any] = []
    for _, args in mine:
        value = _loads(args) if isinstance(args, str) else args
        if all(value != d for d in distinct):
            distinct.append(value)
    if len(distinct) == 1 and isinstance(distinct[0], dict):
        message.tool_calls = [_tool_call(tool_name, json.dumps(distinct[0]), "call_from_text")]
        message.content = None
        return None
    if candidates and not mine:
        names = sorted({n for n, _ in candidates})
        return ReplyNote(f"the model wrote a call of tool {', '.join(map(repr, names))} as text, not {tool_name!r}")
    if len(distinct) > 1:
        return ReplyNote(
            f"the reply holds {len(distinct)} different answers as text; which one is the answer is ambiguous"
        )
    return ReplyNote(f"no tool call; the reply is text: {snippet(content)}")


def _with_raw_controls(text: Any) -> str | None:
    """``text`` re-serialised when it is one JSON object except for raw control characters
    (a newline, a tab) inside its strings, else None. llama-cpp-python's grammar lets a model
    write them (its ``char`` rule excludes only quote and backslash), strict JSON forbids them,
    and the answer is unambiguous: the same object with the characters escaped."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else None


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None

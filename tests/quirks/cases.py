"""The quirks corpus: what real OpenAI-compatible servers send back, and what paper-agent makes of it.

One row per case: the HTTP status, headers and body the server sends (every call of the paper
gets the same, as a model that keeps doing it would), the ``--mode`` asked, and the expected
outcome: ``ok`` with the normalised labels, or ``invalid`` / ``error`` with words the reason
must contain (it names what came back). A reply that fails the same way twice gets no third call
(agent/backends/reasks.py), so an invalid case makes two. ``source`` says where the shape was reported: a GitHub
repository and issue/PR number, or a documentation URL. ``tests/test_backends_quirks.py`` replays every
row through respx against the real backend (instructor + openai + httpx).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent.backends.contract import reply_token_budget

EVIDENCE = "a retrieval-augmented generation pipeline"
TLDR = "The paper proposes a retrieval-augmented pipeline for question answering and reports gains."


def answer(**over: Any) -> dict[str, Any]:
    """A valid PaperTriage instance for ``llm_fakes.make_paper(1)``; ``over`` changes fields."""
    obj: dict[str, Any] = {"primary": "rag", "secondary": [], "confidence": 0.9, "evidence": EVIDENCE, "tldr": TLDR}
    obj.update(over)
    return obj


def as_json(**over: Any) -> str:
    return json.dumps(answer(**over))


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-quirk",
        "object": "chat.completion",
        "created": 0,
        "model": "local-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def content(text: str | None, finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return completion({"role": "assistant", "content": text, **extra}, finish)


def tool_calls(*calls: tuple[str, str], text: str | None = None, finish: str = "tool_calls") -> dict[str, Any]:
    """A reply with ``calls`` as (function name, arguments string)."""
    return completion(
        {
            "role": "assistant",
            "content": text,
            "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(calls)
            ],
        },
        finish,
    )


SCHEMA_ECHO = {
    "$defs": {},
    "description": "Method-type label, confidence, evidence and English TL;DR for one paper.",
    "properties": {
        "primary": {"enum": ["rag", "generative_rec", "rl_rec", "debiasing", "other"], "type": "string"},
        "secondary": {"items": {"type": "string"}, "type": "array"},
        "confidence": {"maximum": 1.0, "minimum": 0.0, "type": "number"},
        "evidence": {"type": "string"},
        "tldr": {"type": "string"},
    },
    "required": ["primary", "confidence", "evidence", "tldr"],
    "title": "PaperTriage",
    "type": "object",
}
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
)
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in - Corporate Proxy</title></head><body>Please log in</body></html>"
)


@dataclass(frozen=True)
class Quirk:
    """One reply shape a real server sends, and the outcome paper-agent must give."""

    name: str
    source: str
    mode: str  # tools | json | json_object
    body: dict[str, Any] | str
    expect: str  # ok | invalid | error
    primary: str | None = None
    secondary: tuple[str, ...] = ()
    confidence: float | None = None
    reason: tuple[str, ...] = ()  # words the result's error must contain
    status: int = 200
    content_type: str = "application/json"
    calls: int | None = None  # HTTP calls made for the paper, where that is the point
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


FENCE = "```json\n{}\n```"

CASES: list[Quirk] = [
    # ------------------------------------------------------------------ JSON wrapped in text
    Quirk(
        "fenced_json",
        "misospace/pr-reviewer-action#449; Muhanad-husn/axial#72",
        "json",
        content(FENCE.format(as_json())),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "fenced_json_no_language",
        "AdityaPatil22/SenGuard#69; vectorize-io/hindsight#2542",
        "json",
        content("```\n" + as_json(primary="debiasing") + "\n```"),
        "ok",
        "debiasing",
        calls=1,
    ),
    Quirk(
        "fenced_json_in_json_object_mode",
        "topoteretes/cognee#4560 (json_mode on Ollama)",
        "json_object",
        content(FENCE.format(as_json(primary="rl_rec"))),
        "ok",
        "rl_rec",
        calls=1,
    ),
    Quirk(
        "prose_before_and_after",
        "sreerevanth/repopilot#157; Muhanad-husn/axial#72",
        "json",
        content("Sure! Here is the classification:\n\n" + as_json() + "\n\nLet me know if you need anything else."),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "prose_with_two_different_objects",
        "567-labs/instructor instructor/v2/core/json.py (extract_json_from_codeblock: "
        "earlier JSON may come from the prompt)",
        "json",
        content('The schema example was {"primary": "other"}. My answer: ' + as_json()),
        "invalid",
        reason=("2 different JSON objects", "ambiguous"),
    ),
    Quirk(
        "prose_only_no_json",
        "Muhanad-husn/axial#72",
        "json",
        content("This paper is clearly about retrieval-augmented generation."),
        "invalid",
        reason=("not JSON", "clearly about retrieval-augmented"),
    ),
    # ------------------------------------------------------------------ reasoning blocks
    Quirk(
        "think_block_before_json",
        "ollama/ollama#8837",
        "json",
        content("<think>\nThe abstract describes a RAG pipeline.\n</think>\n\n" + as_json()),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "think_without_opening_tag",
        "deepseek-ai/DeepSeek-R1#352; vllm-project/vllm#13125; open-webui/open-webui#9808",
        "json",
        content("Okay, the abstract describes a RAG pipeline.\n</think>\n\n" + as_json()),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "think_block_before_tool_call_text",
        "vllm-project/vllm#21571 (Qwen, tool call left in content)",
        "tools",
        content(
            "<think>\nI should call the tool.\n</think>\n<tool_call>\n"
            + json.dumps({"name": "PaperTriage", "arguments": answer()})
            + "\n</tool_call>"
        ),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "think_unclosed",
        "raullenchai/Rapid-MLX#1570; ikawrakow/ik_llama.cpp#690",
        "json",
        content("<think>\nOkay, so I need to figure out which label fits. The abstract says"),
        "invalid",
        reason=("unclosed <think> block", "Okay, so I need"),
    ),
    Quirk(
        "think_unclosed_truncated",
        "jundot/omlx#2817 (truncated mid-thinking)",
        "json",
        content("<think>\nOkay, so I need to figure out which label", finish="length"),
        "invalid",
        reason=("truncated at max_tokens", "finish_reason length"),
        calls=1,
    ),
    # ------------------------------------------------------------------ labels
    Quirk(
        "label_upper_case",
        "margince/margince#417; awslabs/palace#883",
        "json",
        content(as_json(primary="RAG")),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "label_words_with_space",
        "margince/margince#417",
        "json",
        content(as_json(primary="Generative Rec")),
        "ok",
        "generative_rec",
        calls=1,
    ),
    Quirk(
        "label_with_hyphen",
        "aklivity/zilla#1109",
        "tools",
        tool_calls(("PaperTriage", as_json(primary="generative-rec"))),
        "ok",
        "generative_rec",
        calls=1,
    ),
    Quirk(
        "label_short_hyphen",
        "aklivity/zilla#1109",
        "tools",
        tool_calls(("PaperTriage", as_json(primary="rl-rec", secondary=["RAG", "Debiasing"]))),
        "ok",
        "rl_rec",
        ("rag", "debiasing"),
        calls=1,
    ),
    Quirk(
        "label_not_in_taxonomy",
        "margince/margince#417",
        "json",
        content(as_json(primary="retrieval augmented generation")),
        "invalid",
        reason=("primary", "retrieval augmented generation"),
        calls=2,
    ),
    # ------------------------------------------------------------------ confidence
    Quirk(
        "confidence_as_string",
        "TauricResearch/TradingAgents#1288",
        "json",
        content(as_json(confidence="0.85")),
        "ok",
        "rag",
        confidence=0.85,
        calls=1,
    ),
    Quirk(
        "confidence_as_percentage",
        "TauricResearch/TradingAgents#1288; BoundaryML/baml#150",
        "json",
        content(as_json(confidence="85%")),
        "ok",
        "rag",
        confidence=0.85,
        calls=1,
    ),
    Quirk(
        "confidence_above_one",
        "BoundaryML/baml#150",
        "json",
        content(as_json(confidence=85)),
        "invalid",
        reason=("confidence", "less than or equal to 1", "got 85"),
    ),
    Quirk(
        "confidence_as_word",
        "UKGovernmentBEIS/inspect_ai#196 (value_to_float)",
        "tools",
        tool_calls(("PaperTriage", as_json(confidence="high"))),
        "invalid",
        reason=("confidence", "got 'high'"),
    ),
    # ------------------------------------------------------------------ secondary / extra fields
    Quirk(
        "secondary_as_string",
        "caribeedu/twin#57 (models invent their own shapes)",
        "json",
        content(as_json(primary="rl_rec", secondary="debiasing")),
        "ok",
        "rl_rec",
        ("debiasing",),
        calls=1,
    ),
    Quirk(
        "secondary_as_comma_list",
        "caribeedu/twin#57",
        "json",
        content(as_json(secondary="Generative Rec, debiasing")),
        "ok",
        "rag",
        ("generative_rec", "debiasing"),
        calls=1,
    ),
    Quirk(
        "secondary_null",
        "ollama/ollama#8063 (schema-invalid values)",
        "json",
        content(as_json(secondary=None)),
        "ok",
        "rag",
        (),
        calls=1,
    ),
    Quirk(
        "extra_unknown_fields",
        "CIRISAI/CIRISAgent#895 (granite adds keys)",
        "json",
        content(as_json(reasoning="It uses retrieval.", keywords=["rag"], label_explanation=None)),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "schema_echoed_back",
        "567-labs/instructor v2/providers/openai/handlers.py ('return an instance of the JSON, "
        "not the schema itself'); ollama/ollama#8162",
        "json_object",
        content(json.dumps(SCHEMA_ECHO)),
        "invalid",
        reason=("JSON schema echoed back", "properties"),
        calls=2,
    ),
    # ------------------------------------------------------------------ tool calls
    Quirk(
        "two_identical_tool_calls",
        "lmstudio-ai/lmstudio-bug-tracker#1756",
        "tools",
        tool_calls(("PaperTriage", as_json()), ("PaperTriage", as_json())),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "two_different_tool_calls",
        "sgl-project/sglang#9696; Arize-ai/phoenix#6300",
        "tools",
        tool_calls(("PaperTriage", as_json()), ("PaperTriage", as_json(primary="other"))),
        "invalid",
        reason=("2 PaperTriage calls with different arguments",),
    ),
    Quirk(
        "tool_call_with_another_name",
        "vllm-project/vllm#14424",
        "tools",
        tool_calls(("classify_paper", as_json())),
        "invalid",
        reason=("called tool 'classify_paper'", "not 'PaperTriage'"),
    ),
    Quirk(
        "tool_call_as_hermes_text",
        "vllm-project/vllm#17161; vllm-project/vllm#21571",
        "tools",
        content("<tool_call>\n" + json.dumps({"name": "PaperTriage", "arguments": answer()}) + "\n</tool_call>"),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "tool_call_as_llama_json_text",
        "vllm-project/vllm#11786",
        "tools",
        content(json.dumps({"type": "function", "function": {"name": "PaperTriage", "parameters": answer()}})),
        "ok",
        "rag",
        calls=1,
    ),
    Quirk(
        "bare_answer_instead_of_tool_call",
        "callstackincubator/fabrice-ai#118; vllm-project/vllm#17161",
        "tools",
        content(FENCE.format(as_json(primary="debiasing"))),
        "ok",
        "debiasing",
        calls=1,
    ),
    Quirk(
        "tool_call_text_with_another_name",
        "vllm-project/vllm#11786",
        "tools",
        content(json.dumps({"name": "get_current_traffic", "parameters": {"location": "Sydney"}})),
        "invalid",
        reason=("call of tool 'get_current_traffic' as text",),
    ),
    Quirk(
        "tool_arguments_in_code_fence",
        "deepseek-ai/DeepSeek-R1#352 (template fences tool arguments in ```json)",
        "tools",
        tool_calls(("PaperTriage", FENCE.format(as_json(primary="rl_rec")))),
        "ok",
        "rl_rec",
        calls=1,
    ),
    # ------------------------------------------------------------------ raw control characters
    Quirk(
        "raw_newline_in_json_string",
        "abetlen/llama-cpp-python llama_cpp/llama_grammar.py (its char rule excludes only quote and "
        "backslash; recorded with 0.3.36 and SmolLM2-135M: 3 of 40 seed answers held a raw newline)",
        "json",
        content(as_json().replace(" for ", "\nfor\t")),  # json.dumps escapes; these are raw characters
        "ok",
        primary="rag",
        notes="strict JSON forbids the raw characters; the object is unambiguous, so it is re-serialised",
    ),
    Quirk(
        "raw_tab_in_tool_arguments",
        "abetlen/llama-cpp-python llama_cpp/llama_grammar.py (as raw_newline_in_json_string, in a tool call)",
        "tools",
        tool_calls(
            (
                "PaperTriage",
                as_json().replace("retrieval-augmented pipeline", "retrieval-augmented\tpipeline").replace("\\t", "\t"),
            )
        ),
        "ok",
        primary="rag",
    ),
    # ------------------------------------------------------------------ truncation, refusals, empty
    Quirk(
        "finish_length_truncated_json",
        "567-labs/instructor#276; 567-labs/instructor#279",
        "json",
        content(as_json()[:70], finish="length"),
        "invalid",
        reason=(f"truncated at max_tokens={reply_token_budget()}", "finish_reason length", "the reply ends"),
        calls=1,
    ),
    Quirk(
        "finish_length_truncated_tool_arguments",
        "567-labs/instructor#276",
        "tools",
        tool_calls(("PaperTriage", as_json()[:70]), finish="length"),
        "invalid",
        reason=("truncated at max_tokens",),
        calls=1,
    ),
    Quirk(
        "refusal_field",
        "https://platform.openai.com/docs/guides/structured-outputs#refusals; MacPaw/OpenAI#249",
        "json",
        content(None, refusal="I'm sorry, I cannot assist with that request."),
        "invalid",
        reason=("the model refused", "cannot assist"),
        calls=2,
        notes="JSON modes re-ask (instructor checks refusal in tools mode only); the reason still names it",
    ),
    Quirk(
        "refusal_field_tools_mode",
        "https://platform.openai.com/docs/guides/structured-outputs#refusals",
        "tools",
        content(None, refusal="I'm sorry, I cannot assist with that request."),
        "invalid",
        reason=("the model refused", "cannot assist"),
        calls=1,
    ),
    Quirk(
        "refusal_as_prose",
        "https://platform.openai.com/docs/guides/structured-outputs#refusals",
        "json",
        content("I'm sorry, but I can't help with classifying this content."),
        "invalid",
        reason=("not JSON", "I'm sorry"),
    ),
    Quirk(
        "empty_content",
        "six2dez/burp-ai-agent#12 (llama-server); THU-MAIC/OpenMAIC#271",
        "json",
        content(""),
        "invalid",
        reason=("empty",),
        calls=2,
    ),
    Quirk(
        "null_content_no_tool_call",
        "ollama/ollama#13371",
        "tools",
        content(None),
        "invalid",
        reason=("empty", "no tool call"),
    ),
    # ------------------------------------------------------------------ not a chat completion at all
    Quirk(
        "non_json_200_text_plain",
        "Significant-Gravitas/AutoGPT#341",
        "json",
        "Service temporarily overloaded, try later",
        "error",
        reason=("HTTP 200", "not JSON", "overloaded"),
        content_type="text/plain",
        calls=1,
    ),
    Quirk(
        "non_json_200_labelled_json",
        "Significant-Gravitas/AutoGPT#341 (JSONDecodeError: Expecting value)",
        "tools",
        "upstream connect error or disconnect/reset before headers",
        "error",
        reason=("not JSON",),
        calls=1,
    ),
    Quirk(
        "html_login_page_200",
        "heshengtao/comfyui_LLM_party#160 (a proxy in front of Ollama)",
        "tools",
        LOGIN_PAGE,
        "error",
        reason=("HTML page", "Sign in - Corporate Proxy", "proxy"),
        content_type="text/html",
        calls=1,
    ),
    Quirk(
        "html_502_from_proxy",
        "yoheinakajima/babyagi#64; abetlen/llama-cpp-python#1055; acheong08/ChatGPT#1165",
        "json",
        NGINX_502,
        "error",
        reason=("HTTP 502", "HTML page", "502 Bad Gateway"),
        status=502,
        content_type="text/html",
        calls=3,
        notes="5xx is retried (retry_attempts=3 in the tests), then reported",
    ),
    Quirk(
        "error_object_with_status_200",
        "nodetool-ai/nodetool#5755 (OpenRouter); maximhq/bifrost#5963",
        "json",
        {
            "error": {
                "message": "No endpoints found that support tool use",
                "type": "invalid_request_error",
                "code": 404,
            }
        },
        "error",
        reason=("HTTP 200 with an error object", "No endpoints found"),
        calls=1,
    ),
    Quirk(
        "tools_rejected_400",
        "containers/ramalama#988 ('tools param requires --jinja flag')",
        "tools",
        {"error": {"code": 400, "message": "tools param requires --jinja flag", "type": "invalid_request_error"}},
        "error",
        reason=("400", "--jinja"),
        status=400,
        calls=1,
    ),
    Quirk(
        "tools_unsupported_500",
        "ggml-org/llama.cpp#10920 ('Unsupported param: tools')",
        "tools",
        {"error": {"code": 500, "message": "Unsupported param: tools", "type": "server_error"}},
        "error",
        reason=("500", "Unsupported param: tools"),
        status=500,
        calls=3,
    ),
]

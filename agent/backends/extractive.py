"""Extractive TL;DRs and evidence phrases: sentences of the abstract, chosen and trimmed.

The offline backend's summary is the contribution sentence plus, where there is one, a sentence
that reports a finding, trimmed at clause boundaries to at most 50 words. Nothing is generated,
so nothing is invented; the work is in choosing text that still makes sense on its own:

- no back-reference whose referent was cut away ("a framework that addresses them", "to
  address these challenges"): the clause that holds it is dropped;
- no enumeration cut short: a cut never falls inside "(i) ..., (ii) ..., and (iii) ..." or
  "A, B, and C"; a list too long for the budget keeps every item's head noun phrase instead;
- a result sentence must keep its finding after trimming ("Extensive experiments are conducted
  on two datasets" says nothing);
- nothing after a markup tag such as ``</abstract>`` and no instruction-like sentence ("Ignore
  all previous instructions ...") is ever picked: that text was injected, not written by authors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.schema import MAX_TLDR_WORDS

ABBREVIATIONS = ("e.g", "i.e", "et al", "etc", "vs", "cf", "Fig", "Eq", "Sec", "No", "approx", "resp")


def _lower_re(pattern: str) -> re.Pattern[str]:
    """A pattern for text already lower-cased: ~2x faster than ``re.IGNORECASE``.

    Only for patterns whose escapes are all lower case (\\b \\w \\s \\d).
    """
    return re.compile(pattern.lower())


SENT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'$])")

CONTRIB_STRONG_RE = _lower_re(
    r"\b(?:we|this (?:paper|work|study|article|letter|(?:technical )?report)"
    r"|our (?:work|paper|method|approach|framework|model))\s+"
    r"(?:\w+\s+){0,3}?(?:propose|proposes|introduce|introduces|present|presents|develop|develops|"
    r"design|designs|devise|devises|formulate|formulates|put forward|puts forward|build|builds|"
    r"construct|constructs|release|releases|contribute|contributes|unveil)\b"
    r"|\b(?:is|are) (?:a|an) (?:novel|new|simple|unified|general|lightweight|efficient)\b",
)
CONTRIB_WEAK_RE = _lower_re(
    r"^(?:We|This paper|This work)\b|\b(?:we|this (?:paper|work|study))\s+(?:\w+\s+){0,2}?"
    r"(?:investigate|study|explore|examine|"
    r"analy[sz]e|tackle|address|show|demonstrate|evaluate|compare|report)\b",
)
RESULT_VERB_RE = _lower_re(
    r"\b(?:outperform\w*|surpass\w*|improv\w*|achiev\w*|gain\w*|boost\w*|reduc\w*|speed-?up\w*|"
    r"exceed\w*|lift\w*|increase\w*|state-of-the-art|SOTA|beats?)\b",
)
EVAL_RE = _lower_re(
    r"\b(?:experiments?|evaluat\w*|results?|show\w*|demonstrat\w*|validat\w*|empirical\w*|"
    r"deployed|deployment|online A/B|A/B test\w*|benchmarks?)\b",
)
RESULT_LEAD_RE = _lower_re(
    r"^(?:(?:Extensive|Comprehensive|Our|Offline|Online|Empirical|Experimental)\s+)*"
    r"(?:experiments?|experimental results|evaluations?|results|empirical results|A/B tests?)\b",
)
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?\s?(?:%|x\b|×|\$\\times\$|\\%)|\d+\.\d+")
NOT_RESULT_RE = _lower_re(
    r"\b(?:code|data|dataset|implementation)s?\b.{0,40}\b(?:available|released|github)\b|https?://"
)
LEAD_IN_RE = re.compile(
    r"^(?:(?:In|Within) (?:this|the present) (?:paper|work|study|article|letter)|To (?:this end|that end)|"
    r"To [a-z]+\b[^,]{0,120}|"
    r"(?:Therefore|Thus|Hence|Consequently|Accordingly|Motivated by[^,]{0,80}|Inspired by[^,]{0,80}|"
    r"Building on[^,]{0,80}|Based on[^,]{0,80}|Specifically|Additionally|Moreover|Furthermore|"
    r"However|Finally|First|Second|Here|Instead|Concretely|Overall|In summary)),\s+",
    re.IGNORECASE,
)
# Cut only where a clause ends: never between a verb and its object ("show that ...").
CLAUSE_RE = re.compile(r",\s+|;\s+|:\s+|\s+--?\s+|\s+(?:while|whereas)\s+")


def _initial(piece: str) -> bool:
    """Ends in a single capital and a period ("J. Smith", "Fig. A."): not a sentence end."""
    return len(piece) >= 2 and piece[-1] == "." and piece[-2].isupper() and (len(piece) == 2 or not piece[-3].isalnum())


def split_sentences(text: str) -> list[tuple[int, str]]:
    """Sentences with their start offsets; abbreviations such as "e.g." do not end a sentence."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in SENT_SPLIT_RE.finditer(text):
        piece = text[start : m.start()]
        if piece.rstrip(".").endswith(ABBREVIATIONS) or _initial(piece):
            continue
        out.append((start, piece))
        start = m.end()
    if start < len(text):
        out.append((start, text[start:]))
    return [(s, p.strip()) for s, p in out if p.strip()]


@dataclass
class _Abstract:
    """An abstract split once into sentences, with its contribution sentences marked."""

    sentences: list[tuple[int, str]]
    lower: list[str]
    strong: list[bool]
    weak: list[bool]

    @classmethod
    def parse(cls, text: str) -> _Abstract:
        sentences = split_sentences(text)
        lower = [s.lower() for _, s in sentences]
        strong = [bool(CONTRIB_STRONG_RE.search(s)) for s in lower]
        weak = [False] * len(lower) if any(strong) else [bool(CONTRIB_WEAK_RE.search(s)) for s in lower]
        return cls(sentences, lower, strong, weak)

    @property
    def contributions(self) -> set[int]:
        marks = self.strong if any(self.strong) else self.weak
        return {i for i, m in enumerate(marks) if m}

    @property
    def main_index(self) -> int:
        """The sentence that states the contribution; the first sentence if none does."""
        for marks in (self.strong, self.weak):
            if any(marks):
                return marks.index(True)
        return 0


def _words(text: str) -> list[str]:
    return text.split()


def _strip_lead_in(sentence: str) -> str:
    for _ in range(2):
        new = LEAD_IN_RE.sub("", sentence, count=1)
        if new == sentence:
            break
        sentence = new
    return sentence[:1].upper() + sentence[1:] if sentence else sentence


def _end(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


EXTRACTIVE_VERSION = "2"
"""Part of the offline backend's cache key: a change to how TL;DRs are picked must not serve old ones."""

# --------------------------------------------------------------------------- text that must not be picked

# A closing tag, or a chat-role tag, ends the abstract as far as the TL;DR goes: "...</abstract>
# Ignore all previous instructions" is text injected after it, never the authors' words.
MARKUP_TAG_RE = re.compile(  # inline formatting (</b>, </sup>) is left alone
    r"</(?!(?:b|i|u|em|strong|sup|sub|span|a|tt|code|small|big)\s*>)[A-Za-z][\w:-]*\s*>"
    r"|<(?:system|user|assistant|instructions?|prompt)\b[^<>]{0,80}>",
    re.IGNORECASE,
)
INSTRUCTION_RE = _lower_re(  # searched on the lower-cased sentence
    r"\b(?:ignore|disregard|forget|override)\s+(?:\w+\s+){0,3}?(?:instructions?|prompts?|guidelines)\b"
    r"|\byou are now\b"
    r"|^\W*(?:please\s+)?(?:respond|answer|reply)\s+(?:only\s+)?with\b"
    r"|\boutput\s+(?:only\s+)?(?:the\s+)?(?:label|primary|json|word)\b"
)

# Back-references whose referent lies in a sentence the TL;DR leaves out.
BACK_REFERENCE_RE = re.compile(
    r"\b(?:these|this|those|such|the\s+(?:above|aforementioned|above-mentioned))\s+"
    r"(?:\w+\s+)?(?:challenges?|issues?|problems?|limitations?|gaps?|shortcomings?|drawbacks?|"
    r"difficult(?:y|ies)|questions?|bottlenecks?|obstacles?|concerns?|deficienc(?:y|ies)|insights?|"
    r"observations?|findings?)\b"
    r"|\b(?:address(?:es|ing)?|tackl(?:e|es|ing)|solv(?:e|es|ing)|overcom(?:e|es|ing)|mitigat(?:e|es|ing)|"
    r"handl(?:e|es|ing)|alleviat(?:e|es|ing)|resolv(?:e|es|ing))\s+(?:them|both)\b",
    re.IGNORECASE,
)
DANGLING_OPEN_RE = re.compile(
    r"^\W*(?:(?:this|that|these|those|such)\b(?!\s+(?:\w+\s+)?(?:paper|work|study|article|letter|report|survey|thesis)\b)"
    r"|(?:they|them|it|its|their|both)\b)",
    re.IGNORECASE,
)
_BACK_REFERENCE_LOWER = re.compile(BACK_REFERENCE_RE.pattern)  # ~2x faster on text already lower-cased


def _back_reference(sentence: str) -> re.Match[str] | None:
    """The first back-reference in ``sentence`` (offsets into it)."""
    lower = sentence.lower()
    if len(lower) != len(sentence):  # rare Unicode whose lower case changes length
        return BACK_REFERENCE_RE.search(sentence)
    return _BACK_REFERENCE_LOWER.search(lower)


# Where a clause holding a back-reference can be dropped: before "that/which ...", a purpose
# ("designed to", "to address"), or a comma.
REFERENCE_CUT_RE = re.compile(
    r",\s+|\s+(?:that|which)\s+|\s+(?:specifically\s+|particularly\s+)?(?:designed|tailored|aimed|proposed|"
    r"developed)\s+(?:to|for)\s+|\s+(?:in order\s+)?to\s+(?=(?:address|tackle|solve|overcome|mitigate|handle|"
    r"alleviate|resolve|bridge|fill|close|answer)\b)|\s+for\s+(?=(?:addressing|tackling|solving|overcoming)\b)"
    r"|\s+as\s+(?:a|an|the)\s+(?=(?:\w+\s+)?(?:solution|remedy|answer|response|way)\b)"
)

# A result sentence must keep a finding: "Extensive experiments are conducted on ..." has none.
FINDING_RE = _lower_re(  # searched on lower-cased text
    r"\b(?:outperform\w*|surpass\w*|improv\w*|achiev\w*|gain\w*|boost\w*|reduc\w*|speed-?up\w*|exceed\w*|"
    r"lift\w*|increas\w*|state-of-the-art|SOTA|beats?|better|higher|lower|faster|superior\w*|effective\w*|"
    r"significant\w*|consistent\w*|competitive|robust\w*|comparable|matches|rival\w*|strong|fast|accurate\w*|"
    r"efficien\w*|success\w*)\b",
)
CONTENTLESS_RE = _lower_re(  # searched on lower-cased text
    r"\b(?:are|were|is|was|have been|has been)\s+(?:conducted|performed|carried out)\b"
    r"|^(?:we\s+)?(?:evaluate|evaluated|test|tested|conduct|conducted|perform|performed)\b",
)


# Every instruction INSTRUCTION_RE matches holds one of these: a substring test (5x faster than
# the regex) rules out nearly every real sentence first.
_INSTRUCTION_HINTS = (
    "ignore",
    "disregard",
    "forget",
    "override",
    "you are now",
    "respond",
    "answer",
    "reply",
    "output",
)


def _injected(lower: str) -> bool:
    return any(w in lower for w in _INSTRUCTION_HINTS) and bool(INSTRUCTION_RE.search(lower))


def tldr_sentences(abstract: str, doc: _Abstract) -> list[str | None]:
    """The abstract's sentences a TL;DR may use, by index: None for text after a markup tag and
    for instruction-like sentences; a sentence that runs into a tag keeps the part before it."""
    tag = MARKUP_TAG_RE.search(abstract) if "<" in abstract else None
    lower_abstract = abstract.lower()
    suspect = any(w in lower_abstract for w in _INSTRUCTION_HINTS)
    if tag is None and not suspect:  # nearly every abstract: all sentences usable
        return [text for _, text in doc.sentences]
    cut = tag.start() if tag else len(abstract)
    out: list[str | None] = []
    for (start, text), lower in zip(doc.sentences, doc.lower):
        if start >= cut:
            out.append(None)
            continue
        at = abstract.find(text, start)
        if at >= 0 and at + len(text) > cut:
            text = text[: cut - at].strip()
            lower = text.lower()
        out.append(None if not text or (suspect and _injected(lower)) else text)
    return out


# --------------------------------------------------------------------------- lists a cut must not break

ENUM_MARKER_RE = re.compile(r"\((?:i{1,3}|iv|vi{0,3}|ix|x|[1-9]|[a-h])\)")
# "A, B, and C" / "A, B and C": from the first comma to the final "and"/"or", no cut may fall.
# A comma that opens a clause or a phrase ("..., demonstrating ...", "..., which ...", "..., with
# fewer errors") does not start a list, and neither does a lone ", and <clause>".
_NOT_AN_ITEM = (
    r"(?!(?:which|that|where|while|whereas|who|whose|thereby|thus|with|without|by|via|through|for|in|on|at|"
    r"from|to|as|than|due|thanks|including|such as|e\.g|i\.e|namely|especially|notably)\b)"
    r"(?!\w+ing\s+(?:the|a|an|its|their|our|this|these|to|from|with|on|in|by|over)\b)"
)
LIST_SPAN_RE = re.compile(
    rf",(?=(\s+{_NOT_AN_ITEM}(?:[^,;:.()]{{1,60}},\s+)+(?:and|or)\s|\s+{_NOT_AN_ITEM}[^,;:.()]{{1,60}}?\s(?:and|or)\s))"
)
ITEM_HEAD_CUT_RE = re.compile(r",\s+|\s+(?:that|which|where|who|with|using|via|by|to|for|based on)\s+")


def _protected_spans(sentence: str) -> list[tuple[int, int]]:
    """Character spans a clause cut must not fall inside: a marked enumeration from "(i)" to its
    last marker, and each comma of an "A, B, and C" list."""
    spans = []
    markers = list(ENUM_MARKER_RE.finditer(sentence))
    if len(markers) >= 2:
        spans.append((markers[0].start(), markers[-1].end()))
    spans += [(m.start(), m.end(1)) for m in LIST_SPAN_RE.finditer(sentence)]
    return spans


def _compress_enumeration(sentence: str) -> str:
    """ "X combines (i) A with B, (ii) C that does D, and (iii) E ..." -> "X combines (i) A, (ii) C,
    and (iii) E.": every item keeps its head noun phrase, so no item is lost to the word budget."""
    markers = list(ENUM_MARKER_RE.finditer(sentence))
    if len(markers) < 2:
        return sentence
    heads = []
    for k, m in enumerate(markers):
        stop = markers[k + 1].start() if k + 1 < len(markers) else len(sentence)
        item = sentence[m.end() : stop]
        cuts = [c.start() for c in ITEM_HEAD_CUT_RE.finditer(item) if len(_words(item[: c.start()])) >= 2]
        head = item[: cuts[0]] if cuts else item
        heads.append(f"{m.group(0)} {head.strip(' ,;:.')}")
        if head.strip(" ,;:.").lower().endswith((" and", " or")):
            heads[-1] = heads[-1].rsplit(" ", 1)[0]
    glue = ", and " if re.search(r"\b(?:and|or)\s*$", sentence[: markers[-1].start()]) else ", "
    return sentence[: markers[0].start()].rstrip() + " " + ", ".join(heads[:-1]) + glue + heads[-1] + "."


def trim_to_words(sentence: str, budget: int) -> str:
    """Cut ``sentence`` to at most ``budget`` words, at a clause boundary when one is close.

    A cut never falls inside an enumeration or a comma list (it would drop items and still end
    with a period); a marked enumeration too long for the budget keeps each item's head instead."""
    words = _words(sentence)
    if len(words) <= budget:
        return sentence
    compressed = _compress_enumeration(sentence)
    if compressed != sentence and len(_words(compressed)) <= budget:
        return compressed
    protected = _protected_spans(sentence)
    best = None
    for m in CLAUSE_RE.finditer(sentence):
        if any(a <= m.start() < b for a, b in protected):
            continue
        n = len(_words(sentence[: m.start()]))
        if n > budget:
            break
        if n >= max(6, budget // 2):
            best = m.start()
    if best is not None:
        return sentence[:best].rstrip(" ,;:") + "."
    if compressed != sentence:
        return trim_to_words(compressed, budget)
    return " ".join(words[:budget]).rstrip(" ,;:.") + "…"


# --------------------------------------------------------------------------- choosing sentences


LEADING_CLAUSE_RE = re.compile(
    r"(?:To|For|Given|Facing|Against|With|Motivated|Inspired|Guided|Driven|Building|Based|Following|Toward|Towards)\b"
)


def _drop_back_reference(sentence: str) -> str:
    """Drop the clause that points at text the TL;DR leaves out: "X, a framework that addresses
    them" -> "X, a framework."; "To tackle these issues, we ..." -> "We ..."."""
    m = _back_reference(sentence)
    if m is None:
        return sentence
    before = sentence[: m.start()]
    if LEADING_CLAUSE_RE.match(sentence) and "," not in before:
        comma = sentence.find(", ", m.end())
        rest = sentence[comma + 2 :] if comma >= 0 else ""
        if len(_words(rest)) >= 5 and not _back_reference(rest):
            return rest[:1].upper() + rest[1:]
    for cut in reversed([c.start() for c in REFERENCE_CUT_RE.finditer(before)]):
        head = sentence[:cut].rstrip(" ,;:")
        if len(_words(head)) >= 5:
            return head + "."
    return sentence


def _clean(sentence: str) -> str:
    return _end(_drop_back_reference(_strip_lead_in(sentence)))


def _main_sentence(doc: _Abstract, usable: list[str | None]) -> tuple[int, str] | None:
    """The first contribution sentence that can be used and stands alone (else the first one, else
    the first usable sentence), with its index, cleaned."""
    for marks in (doc.strong, doc.weak):
        picks = [i for i, (mark, text) in enumerate(zip(marks, usable)) if mark and text]
        for i in picks:
            cleaned = _clean(usable[i] or "")
            if not DANGLING_OPEN_RE.match(cleaned):
                return i, cleaned
        if picks:  # all dangle (rare): the first, as before
            return picks[0], _clean(usable[picks[0]] or "")
    first = next((i for i, text in enumerate(usable) if text), None)
    return None if first is None else (first, _clean(usable[first] or ""))


def _result_score(sentence: str, low: str) -> int:
    """How clearly a sentence reports the main result (0: not a result sentence)."""
    if NOT_RESULT_RE.search(low):
        return 0
    verb, evals, nums = bool(RESULT_VERB_RE.search(low)), bool(EVAL_RE.search(low)), bool(NUMBER_RE.search(sentence))
    lead = bool(RESULT_LEAD_RE.search(low))
    if not (lead or (verb and (evals or nums)) or (evals and nums)):
        return 0
    return 2 * verb + evals + 2 * nums + 3 * lead


def _fit_result(sentence: str, room: int, follows_main: bool = False) -> str | None:
    """The result sentence as it would appear in ``room`` words, or None if it would lose its
    finding, dangle, or be cut mid-clause. Right after the contribution sentence, "It ..." and
    "This model ..." point at that sentence, which the TL;DR holds, so they do not dangle."""
    text = _clean(sentence)
    if _back_reference(text) or (DANGLING_OPEN_RE.match(text) and not follows_main):
        return None
    trimmed = len(_words(text)) > room
    if trimmed:
        if room < 10:
            return None
        text = trim_to_words(text, room)
        if text.endswith("…"):
            return None
    lower = text.lower()
    if trimmed and not (FINDING_RE.search(lower) or NUMBER_RE.search(text)):
        return None  # the finding was in the part cut away
    if CONTENTLESS_RE.search(lower) and not (RESULT_VERB_RE.search(lower) or NUMBER_RE.search(text)):
        return None  # "Extensive experiments are conducted on ...", "We evaluate X on ..."
    return text


def _headline_result(usable: list[str | None], doc: _Abstract, after: int, room: int) -> str | None:
    """The best-scoring sentence after the contribution that reports a finding and fits."""
    ranked = sorted(
        (
            (-_result_score(text, doc.lower[i]), i, text)
            for i, text in enumerate(usable)
            if i > after and text and not doc.strong[i]
        ),
    )
    for neg, i, text in ranked:
        if neg == 0:
            break
        fitted = _fit_result(text, room, follows_main=i == after + 1)
        if fitted is not None:
            return fitted
    return None


def extractive_tldr(title: str, abstract: str, doc: _Abstract | None = None) -> str:
    """The contribution sentence plus, when one fits, a sentence reporting a finding; at most
    ``MAX_TLDR_WORDS`` words, every word copied from the abstract (or the title, without one)."""
    doc = doc or _Abstract.parse(abstract)
    usable = tldr_sentences(abstract, doc)
    picked = _main_sentence(doc, usable)
    if picked is None:
        return trim_to_words(title, MAX_TLDR_WORDS)
    idx, main = picked
    main_words = len(_words(main))
    if main_words >= MAX_TLDR_WORDS:
        return trim_to_words(main, MAX_TLDR_WORDS)
    result = _headline_result(usable, doc, idx, MAX_TLDR_WORDS - main_words)
    parts = [main, result] if result else [main]
    detail = _method_detail(usable, doc, idx, MAX_TLDR_WORDS - sum(len(_words(p)) for p in parts))
    if detail and detail not in parts:
        parts.insert(1, detail)
    return " ".join(parts)


MIN_DETAIL_ROOM = 12
# Scene-setting, not method: what existing work lacks, where the field stands.
BACKGROUND_RE = _lower_re(  # searched on lower-cased text
    r"^(?:However|But|Yet|Although|While|Despite|Given|Unlike)\b"
    r"|\b(?:existing|conventional|traditional|struggle\w*|suffer\w*|lack\w*)\b",
)


def _method_detail(usable: list[str | None], doc: _Abstract, main: int, room: int) -> str | None:
    """The sentence right after the contribution, when it fits whole and says how the method works."""
    i = main + 1
    if i >= len(usable) or not usable[i] or room < MIN_DETAIL_ROOM:
        return None
    text = _clean(usable[i] or "")
    lower = text.lower()
    if len(_words(text)) > room or _result_score(text, lower):
        return None
    if _back_reference(text) or BACKGROUND_RE.search(lower) or NOT_RESULT_RE.search(lower):
        return None
    return text


# --------------------------------------------------------------------------- evidence

EVIDENCE_TOKEN_RE = re.compile(r"(?:[^\s-]|-(?!-))+")  # words; "--" separates like a space
FUNCTION_WORDS = frozenset(
    "the a an of for to in on with by and or from as at that which via into its their our is are was were be "
    "than this these those such but while".split()
)
# A phrase ends before these: what follows is a new clause or a modifier, not the cue's phrase.
PHRASE_OPENERS = frozenset(
    "that which who whom whose where whereby while whereas to by with for via through using inspired designed "
    "based because since when than".split()
)
LEADING_JOINERS = frozenset("and or but that which while whereas by with to of for in on from as at via into".split())


def evidence_phrase(text: str, hit: tuple[float, int, int] | None) -> str:
    """A short verbatim span of the abstract around a cue hit (up to three words each side),
    ending at a phrase boundary: never across "--", a comma or a clause break, never on "the"."""
    if not text:
        return ""
    if hit is None:
        first = split_sentences(text)[0][1]
        return " ".join(first.split()[:12]).strip(" ,;:.")
    _, start, end = hit
    cut = text.rfind(". ", 0, start)
    lo = cut + 2 if cut >= 0 else 0
    hi = text.find(". ", end)
    hi = len(text) if hi < 0 else hi
    a = start
    for tok in reversed(list(EVIDENCE_TOKEN_RE.finditer(text, lo, start))[-3:]):
        if text[tok.end() : a].strip() or tok.group(0).endswith((",", ";", ":", ")")):
            break
        a = tok.start()
    b = end
    for tok in list(EVIDENCE_TOKEN_RE.finditer(text, end, hi))[:3]:
        if text[b : tok.start()].strip() or tok.group(0).lower() in PHRASE_OPENERS:
            break
        b = tok.end()
        if tok.group(0).endswith((",", ";", ":", ")", "!", "?")):
            break
    words = list(EVIDENCE_TOKEN_RE.finditer(text, a, b))
    while words and words[-1].start() >= end and words[-1].group(0).lower().strip(",;:") in FUNCTION_WORDS:
        words.pop()
    while words and words[0].end() <= start and words[0].group(0).lower() in LEADING_JOINERS:
        words.pop(0)
    if not words:
        return text[start:end].strip(" ,;:.")
    return text[words[0].start() : words[-1].end()].strip(" ,;:.")

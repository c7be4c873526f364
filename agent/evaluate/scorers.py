"""Per-paper TL;DR scorers: English, within the word limit, grounded in the abstract, ROUGE-L.

Each takes one TL;DR (and its paper's title and abstract or a reference) and returns a score
for that paper; ``agent.evaluate.metrics`` averages them over a dataset. The English rule and
the word limit are the ones the backends enforce (``agent.schema``), so the eval measures the
same thing the validator asks for.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Any

from agent.schema import MAX_TLDR_WORDS, has_cjk

# Atomic group: "3.5x" or "7B" is not a number (it is a term, checked as one), not "3" / "7".
NUMBER_RE = re.compile(r"(?<![\w.])(?>\d+(?:[.,]\d+)*)%?(?!\w)")
_PUNCT = string.punctuation + "“”‘’«»…–—"
_SENTENCE_END = (".", "!", "?", "…")
_LATEX_MARKERS = re.compile(r"[${}]")


def is_english(text: str) -> bool:
    """True for a non-empty text with no Chinese, Japanese or Korean characters (nor full-width
    forms): ``agent.schema.has_cjk``, the rule the LLM reply validator re-asks on, so a TL;DR
    the backend accepted is never scored as not English."""
    return bool(text.strip()) and not has_cjk(text)


def word_count(text: str) -> int:
    """Words as whitespace-separated tokens, the same rule the labelling guide's limit uses."""
    return len(text.split())


def within_word_limit(text: str) -> bool:
    """Non-empty and at most ``MAX_TLDR_WORDS`` words (the limit every backend is held to)."""
    return bool(text.strip()) and word_count(text) <= MAX_TLDR_WORDS


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _candidate_terms(text: str) -> list[str]:
    """Capitalised words not at sentence start, plus any word with a capital after its first
    character (acronyms, CamelCase names), punctuation stripped from both ends."""
    terms = []
    at_start = True
    for raw in text.split():
        word = raw.strip(_PUNCT)
        starts_sentence = at_start
        at_start = raw.rstrip("\"')]}”’").endswith(_SENTENCE_END)
        if not any(ch.isalpha() for ch in word):
            continue
        if any(ch.isupper() for ch in word[1:]) or (not starts_sentence and word[0].isupper()):
            terms.append(word)
    return terms


def _term_in(term: str, source: str) -> bool:
    """Case-insensitive substring, allowing a plural/possessive and hyphenated compounds whose
    capitalised parts each appear ("LLM-based" needs only "LLM")."""
    low = term.lower()
    variants = {low, low.removesuffix("'s").removesuffix("’s")}
    if len(low) > 2 and low.endswith("s") and term[:-1].isupper():
        variants.add(low[:-1])  # LLMs -> llm
    if any(v and v in source for v in variants):
        return True
    parts = [p for p in re.split(r"[-/]", term) if p]
    capital_parts = [p for p in parts if any(ch.isupper() for ch in p)]
    return len(parts) > 1 and bool(capital_parts) and all(_term_in(p, source) for p in capital_parts)


def ungrounded_terms(tldr: str, title: str, abstract: str) -> list[str]:
    """Numbers, names and acronyms in the TL;DR that neither the title nor the abstract contains.

    A number counts as present when its digits equal the digits of a number in the source
    ("1,000" ~ "1000", "12%" ~ "12 %"); a term when it is a case-insensitive substring (LaTeX
    ``$``/``{}`` ignored). The labelling guide's rule is "no number, name or claim the abstract
    does not contain", and invented numbers and names are the hallucinations a reader cannot spot.
    """
    source = f"{title}\n{abstract}"
    source_numbers = {_digits(m) for m in NUMBER_RE.findall(source)}
    # Also match with LaTeX math markers removed: the abstract's "S$^2$GR" is a TL;DR's "S^2GR".
    source_lower = f"{source}\n{_LATEX_MARKERS.sub('', source)}".lower()
    offenders = [m for m in NUMBER_RE.findall(tldr) if _digits(m) not in source_numbers]
    offenders += [t for t in _candidate_terms(tldr) if not _term_in(t, source_lower)]
    return list(dict.fromkeys(offenders))


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer  # imported lazily: it pulls in nltk

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence, Porter-stemmed); 0 when either side is empty."""
    if not candidate.strip() or not reference.strip():
        return 0.0
    return float(_rouge_scorer().score(reference, candidate)["rougeL"].fmeasure)


# --------------------------------------------------------------------------- useless summaries
# A TL;DR can be English, short and grounded and still tell the reader nothing: the same
# sentence for every paper, the title again, or "a framework that addresses them" with the
# referent cut away. These scorers catch those; the eval reports them for every backend.

_SELF = (
    r"(?:paper|work|study|article|letter|(?:technical\s+)?report|survey|thesis|tutorial|chapter|review|dissertation)"
)
DANGLING_OPEN_RE = re.compile(
    rf"^\W*(?:(?:this|that|these|those|such)\b(?!\s+{_SELF}\b)"
    r"|(?:they|them|it|its|their|both)\b|the\s+(?:above|former|latter|aforementioned)\b)",
    re.IGNORECASE,
)
# A back-reference to something the TL;DR never named: "addresses them", "these challenges".
_PROBLEM_NOUNS = (
    r"challenges?|issues?|problems?|limitations?|gaps?|shortcomings?|drawbacks?|difficult(?:y|ies)|"
    r"questions?|observations?|findings?|insights?|bottlenecks?|obstacles?|concerns?|deficienc(?:y|ies)"
)
BACK_REFERENCE_RE = re.compile(
    rf"\b(?:these|this|those|such|the\s+(?:above|aforementioned|above-mentioned|identified))\s+({_PROBLEM_NOUNS})\b"
    r"|\b(?:address(?:es|ing)?|tackl(?:e|es|ing)|solv(?:e|es|ing)|overcom(?:e|es|ing)|mitigat(?:e|es|ing)|"
    r"handl(?:e|es|ing)|alleviat(?:e|es|ing)|resolv(?:e|es|ing))\s+(them|both)\b",
    re.IGNORECASE,
)
_ENUM_MARKER_RE = re.compile(r"\((i{1,3}|iv|v|vi{1,3}|ix|x|[1-9]|[a-h])\)")
_ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"]
_STOPWORDS = frozenset(
    "a an the of for and or to in on with by from via at as is are be we our this that these its their it "
    "into using based towards toward new novel paper propose proposes proposed present presents introduce "
    "introduces approach method framework model".split()
)


def _noun_stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def opens_with_dangling_reference(tldr: str) -> bool:
    """The TL;DR opens with "This/These/They/It ..." pointing at text it does not include.

    "This paper ..." and "This work ..." are fine: they refer to the paper itself."""
    return bool(DANGLING_OPEN_RE.match(tldr.strip()))


def dangling_references(tldr: str) -> list[str]:
    """Back-references whose referent the TL;DR never names: "addresses them", "these challenges"
    (unless "challenge" appeared earlier in the TL;DR), plus a dangling opening word."""
    found = [tldr.split()[0]] if opens_with_dangling_reference(tldr) else []
    for m in BACK_REFERENCE_RE.finditer(tldr):
        noun = m.group(1)
        if noun and _noun_stem(noun) in {_noun_stem(w.strip(_PUNCT)) for w in tldr[: m.start()].split()}:
            continue  # "two challenges: A and B ... these challenges" names its referent
        found.append(m.group(0))
    return found


def _next_marker(marker: str) -> str | None:
    if marker in _ROMAN:
        i = _ROMAN.index(marker)
        return _ROMAN[i + 1] if i + 1 < len(_ROMAN) else None
    if marker.isdigit():
        return str(int(marker) + 1)
    return chr(ord(marker) + 1)


def cut_enumeration(tldr: str, abstract: str) -> bool:
    """The TL;DR lists "(i) ... (ii) ..." but the abstract's list goes on: items were lost."""
    markers = _ENUM_MARKER_RE.findall(tldr)
    if len(markers) < 2 or not abstract:
        return False
    following = _next_marker(markers[-1])
    return following is not None and f"({following})" in abstract and f"({following})" not in tldr


def stands_alone(tldr: str, abstract: str = "") -> bool:
    """A reader understands the TL;DR without the abstract: non-empty, a finished sentence (not
    cut off with "…"), no dangling reference, and no enumeration cut short."""
    text = tldr.strip()
    if not text or text.endswith("…") or not text.endswith(_SENTENCE_END + ('"', "'", ")", "”", "’")):
        return False
    return not dangling_references(text) and not cut_enumeration(text, abstract)


def _content_words(text: str) -> list[str]:
    words = (_noun_stem(w.strip(_PUNCT)) for w in text.replace("-", " ").split())
    return [w for w in words if w and w not in _STOPWORDS]


def restates_title(tldr: str, title: str) -> bool:
    """The TL;DR says little beyond the title: most (60%) of its content words are title words
    and it adds at most three others (so "We propose <title>." counts, a real summary does not)."""
    words, title_words = _content_words(tldr), set(_content_words(title))
    if not words or not title_words:
        return False
    extra = [w for w in words if w not in title_words]
    return len(extra) <= 3 and (len(words) - len(extra)) >= 0.6 * len(words)


def normalized_tldr(tldr: str) -> str:
    """The TL;DR as compared for distinctness: lower case, punctuation and spacing ignored."""
    return " ".join(w.strip(_PUNCT) for w in tldr.lower().split() if w.strip(_PUNCT))

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

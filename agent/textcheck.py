"""What small models do to a TL;DR, as pure checks: restate the title, repeat themselves, say nothing.

A 135M model answers "PostImage: post-image-post-image-..." or "This paper proposes a novel
method." inside a perfectly valid JSON object. The LLM validator re-asks on these (with the
reason as the message) and the eval's TL;DR scorers count them, from this one definition.
Standard library only: any layer may use it.
"""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
STOP = frozenset(
    "a an the of for and or in on to with by from via into at as is are be we our this that these those "
    "it its their which using based".split()
)
GENERIC = frozenset(
    "paper propose proposes proposed present presents study studies work approach approaches method methods "
    "novel new framework model models results result show shows experiments experimental performance effective "
    "effectiveness improve improves improved improvement state art existing baseline baselines task tasks "
    "problem problems data dataset datasets demonstrate demonstrates significant significantly achieve achieves "
    "better outperform outperforms various different".split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased words without stop words (hyphenated terms kept whole)."""
    return [w for w in WORD_RE.findall(text.lower()) if w not in STOP]


def restates_title(tldr: str, title: str) -> bool:
    """The TL;DR adds (almost) nothing to the title: at least three quarters of its content
    words come from the title, and at most two are new."""
    said, titled = content_words(tldr), set(content_words(title))
    if not said or not titled:
        return False
    new = [w for w in said if w not in titled]
    return len(new) <= 2 and (len(said) - len(new)) / len(said) >= 0.75


def repetition(text: str) -> str | None:
    """The phrase a runaway reply repeats, or None: a character run (``dddddddd``), a word
    repeated four times in a row, a phrase of 2-8 words three times in a row, or a hyphenated
    chain (``post-image-post-image-...``)."""
    run = re.search(r"(\S)\1{7,}", text)
    if run:
        return run.group(0)[:20]
    words = WORD_RE.findall(text.lower())
    for n in range(1, 9):
        times = 4 if n == 1 else 3
        for i in range(len(words) - times * n + 1):
            gram = words[i : i + n]
            if all(words[i + k * n : i + (k + 1) * n] == gram for k in range(1, times)):
                return " ".join(gram)
    hyphen = re.search(r"\b(\w+(?:-\w+)*?)(?:-\1){3,}", text.lower())
    return hyphen.group(1) if hyphen else None


def is_generic(tldr: str) -> bool:
    """Nothing specific: fewer than two content words outside the boilerplate vocabulary
    ("This paper proposes a novel method." has none)."""
    specific = [w for w in content_words(tldr) if w not in GENERIC]
    return len(specific) < 2

"""The offline classifier's learned part: sparse features and a linear model read from a data file.

Hand-written cues alone fit the papers they were written against (0.975 on the 40 seeds, about
0.82 on papers never seen). So the offline backend now scores a paper with a multinomial
logistic regression whose weights are fitted on the hand-labelled ``dev`` set
(``evals/train_offline.py``). Its inputs are:

- the taxonomy's cue hits, per label and per place (title, "we propose ..." sentence, rest of
  the abstract), so the field's vocabulary written down in ``prompts/taxonomy.toml`` still counts;
- word unigrams and bigrams of the title and unigrams of the abstract, so the model also learns
  the words that the cue lists never mention.

At run time this is pure standard library: the artefact is a JSON file of weights
(``agent/data/offline_model.json``), and scoring a paper is a few hundred dict look-ups. The
training script imports :func:`featurize` from here, so training and inference can never
compute different features.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

_SEPARATORS = str.maketrans({c: " " for c in string.punctuation if c not in "-'"})
# Words so common in abstracts that they carry no method signal (kept out of bigrams too).
STOPWORDS = frozenset(
    "a an the of and or for to in on with by from as at is are was were be been being this that these those "
    "we our it its their they which such can also into than then via using based both each more most".split()
)
CUE_PLACES = ("title", "contrib", "rest")
NGRAM_PREFIXES = ("t:", "a:")  # title, abstract: the order ngram_features() returns them in
CueComponents = tuple[float, float, float, bool]  # title, contribution, rest, strong hit
# Cue features are few (a dozen per paper) against hundreds of n-grams; scaled up, the L2
# penalty lets the model lean on them as much as the data says. 3 was best by 5-fold CV on
# dev (macro-F1 0.785 against 0.659 unscaled; 2, 4 and 6 also tried).
CUE_SCALE = 3.0


def _words(text: str) -> list[str]:
    """Lower-cased words: punctuation (but ``-`` and ``'``) becomes a space, stopwords go.

    ``str.translate`` + ``split`` runs in C, 5x faster than a word regex: this is the hot path.
    """
    return [w for w in text.lower().translate(_SEPARATORS).split() if w not in STOPWORDS]


def ngram_features(title: str, abstract: str) -> tuple[set[str], set[str]]:
    """The paper's binary word features: (title unigrams and bigrams, abstract unigrams).

    Abstract bigrams were dropped: by 5-fold CV on dev they did not help (macro-F1 0.785 with,
    0.790 without) and they were the costliest part of the features. In the model file the
    features are named ``t:<gram>`` and ``a:<word>``; kept apart here, without building those
    names per paper.
    """
    words = _words(title)
    title_grams = set(words)
    title_grams.update(map("{}_{}".format, words, words[1:]))
    return title_grams, set(_words(abstract))


def cue_features(cue_scores: dict[str, CueComponents]) -> dict[str, float]:
    """The taxonomy-cue features of one paper (real-valued, log-damped and scaled).

    ``cue_scores`` maps a label to its cue weight in the title, in the contribution sentences and
    in the rest of the abstract, and whether a strong cue hit (``OfflineBackend.cue_components``).
    """
    feats: dict[str, float] = {}
    for label, (title_w, contrib_w, rest_w, strong) in cue_scores.items():
        for place, value in zip(CUE_PLACES, (title_w, contrib_w, rest_w)):
            if value > 0:
                feats[f"cue:{label}:{place}"] = round(CUE_SCALE * math.log1p(value), 6)
        if strong:
            feats[f"cue:{label}:strong"] = CUE_SCALE
    return feats


def featurize(title: str, abstract: str, cue_scores: dict[str, CueComponents]) -> dict[str, float]:
    """The full feature vector as ``{name: value}``: what the training script fits on.

    Inference computes exactly these two parts (``ngram_features``, ``cue_features``) without
    merging them, which is faster; the training script calls this function, so the two can
    never disagree on what a feature is.
    """
    title_grams, abstract_grams = ngram_features(title, abstract)
    feats = {f"t:{g}": 1.0 for g in title_grams}
    feats.update({f"a:{g}": 1.0 for g in abstract_grams})
    feats.update(cue_features(cue_scores))
    return feats


@dataclass(frozen=True)
class Prediction:
    """Calibrated probabilities per label, and the confidence for the top one."""

    probs: dict[str, float]
    top: str
    confidence: float


class LinearModel:
    """A fitted multinomial logistic regression plus the calibration of its top probability."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data["version"]
        self.labels: list[str] = list(data["labels"])
        self.taxonomy: str = data["taxonomy"]
        self.intercept: tuple[float, ...] = tuple(data["intercept"])
        # Tuples, not the lists JSON gives: a tuple of floats is untracked by the garbage
        # collector, so the ~5,000 rows are not re-scanned by every collection the hot path
        # triggers (that scanning cost ~100 us a paper).
        self.weights: dict[str, tuple[float, ...]] = {n: tuple(w) for n, w in data["weights"].items()}
        calib = data["calibration"]
        self.calib_a: float = float(calib["a"])
        self.calib_b: float = float(calib["b"])
        self.secondary_threshold: float = float(data["secondary_threshold"])
        # Per field (title, abstract), the weight row of every n-gram, keyed without the prefix
        # so no name is built per paper at run time.
        self._vocab: list[frozenset[str]] = []
        self._rows: list[dict[str, tuple[float, ...]]] = []
        for prefix in NGRAM_PREFIXES:
            table = {n[len(prefix) :]: w for n, w in self.weights.items() if n.startswith(prefix)}
            self._vocab.append(frozenset(table))
            self._rows.append(table)
        self.fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
        gc.collect()  # untrack the new tuples and dicts now rather than in the first run's collections

    @classmethod
    def load(cls, path: str | Path | None = None) -> LinearModel:
        """The shipped model (read once per process: 34 ms), or one written by
        ``paper-agent train`` (a user's file: any problem is one ``ConfigError`` line)."""
        if path is None:
            return _shipped()
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: model file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read model file ({exc.__class__.__name__})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: model file is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        try:
            return cls(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{p}: not a paper-agent model file (bad or missing {exc})") from None

    def check_taxonomy(self, taxonomy_tag: str, labels: list[str], origin: str = "model file") -> None:
        """Refuse (one ``ConfigError`` line) a model fitted for another label set or other cues:
        its weights would be read against the wrong labels or features."""
        if self.labels != list(labels):
            raise ConfigError(
                f"{origin}: trained for labels {', '.join(self.labels)} ({self.taxonomy}), "
                f"not this taxonomy's {', '.join(labels)} ({taxonomy_tag}); train one with paper-agent train"
            )
        if self.taxonomy != taxonomy_tag:
            raise ConfigError(
                f"{origin}: trained for taxonomy {self.taxonomy}, not {taxonomy_tag} (same labels, other "
                "definitions or cues); retrain it with paper-agent train --taxonomy"
            )

    def matches(self, taxonomy_tag: str, labels: list[str]) -> bool:
        """Whether this model was fitted on exactly this taxonomy (labels and cues)."""
        return self.taxonomy == taxonomy_tag and self.labels == list(labels)

    def raw_probs(self, ngrams: tuple[set[str], set[str]], cues: dict[str, float]) -> list[float]:
        """Softmax over the labels (uncalibrated).

        The weight rows of the paper's n-grams are fetched with ``map`` and summed column-wise
        with ``zip``/``sum`` (C loops); a Python loop over features and labels was half the
        backend's time.
        """
        rows: list[Sequence[float]] = [self.intercept]
        for grams, vocab, table in zip(ngrams, self._vocab, self._rows):
            rows.extend(map(table.__getitem__, grams & vocab))
        weights = self.weights
        for name, value in cues.items():
            w = weights.get(name)
            if w is not None:
                rows.append([x * value for x in w])
        scores = [sum(col) for col in zip(*rows)]
        peak = max(scores)
        exps = [math.exp(s - peak) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    def calibrate(self, p: float) -> float:
        """Platt scaling of the top probability, fitted on out-of-fold ``dev`` predictions."""
        p = min(max(p, 1e-6), 1 - 1e-6)
        z = self.calib_a * math.log(p / (1 - p)) + self.calib_b
        return 1.0 / (1.0 + math.exp(-z))

    def predict(self, ngrams: tuple[set[str], set[str]], cues: dict[str, float]) -> Prediction:
        probs = self.raw_probs(ngrams, cues)
        k = max(range(len(probs)), key=lambda i: (probs[i], -i))
        return Prediction(
            probs=dict(zip(self.labels, probs)),
            top=self.labels[k],
            confidence=self.calibrate(probs[k]),
        )


@functools.lru_cache(maxsize=1)
def _shipped() -> LinearModel:
    text = resources.files("agent").joinpath("data/offline_model.json").read_text(encoding="utf-8")
    return LinearModel(json.loads(text))

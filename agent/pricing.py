"""Token prices per model, from a data file the user can override.

A model missing from the table costs ``None`` (shown as "unpriced"), never a guess: a local
vLLM or Ollama model has tokens but no bill, and a custom name may be anything.

Batch-API requests are billed at a discount: ``batch_discount`` at the top of the table (0.5,
i.e. half price, unless the file says otherwise), overridable per model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from agent.errors import ConfigError

DEFAULT_BATCH_DISCOUNT = 0.5


@dataclass(frozen=True)
class Price:
    input: float  # USD per million prompt tokens
    output: float  # USD per million completion tokens
    batch_discount: float = DEFAULT_BATCH_DISCOUNT  # share taken off for Batch-API requests

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return round((prompt_tokens * self.input + completion_tokens * self.output) / 1e6, 8)

    def batch(self) -> Price:
        """The price of the same tokens sent through the Batch API."""
        keep = 1.0 - self.batch_discount
        return Price(self.input * keep, self.output * keep, 0.0)


def _discount(value: object, origin: str) -> float:
    discount = float(value)  # type: ignore[arg-type]
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"batch_discount must be in [0, 1), got {discount}")
    return discount


def _parse(text: str, origin: str) -> dict[str, Price]:
    try:
        data = tomllib.loads(text)
        default = _discount(data.get("batch_discount", DEFAULT_BATCH_DISCOUNT), origin)
        return {
            name: Price(
                float(entry["input"]),
                float(entry["output"]),
                _discount(entry.get("batch_discount", default), origin),
            )
            for name, entry in data.get("models", {}).items()
        }
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{origin}: invalid price table ({exc.__class__.__name__}: {exc})") from None


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The built-in table, updated with ``path`` when given."""
    table = _parse(resources.files("agent").joinpath("data/prices.toml").read_text(encoding="utf-8"), "built-in prices")
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read price table ({exc.strerror or exc})") from None
        table.update(_parse(text, str(p)))
    return table


def price_for(model: str, table: dict[str, Price]) -> Price | None:
    """Exact name first, then without a provider prefix (``openai/gpt-4o`` -> ``gpt-4o``)."""
    return table.get(model) or table.get(model.rsplit("/", 1)[-1])

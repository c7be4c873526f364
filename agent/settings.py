"""Configuration: explicit argument -> environment / ``.env`` -> default.

``pydantic-settings`` reads the environment and a ``.env`` file in the working directory.
The API key is a ``SecretStr`` so it prints as ``**********`` anywhere it might be logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.errors import ConfigError, first_error

BackendName = Literal["auto", "offline", "openai"]
Mode = Literal["auto", "tools", "json", "json_object_schema", "json_object"]
HttpClient = Literal["aiohttp", "httpx"]


def default_cache_dir() -> Path:
    """Per-user cache folder: ``$XDG_CACHE_HOME/paper-agent`` or ``~/.cache/paper-agent``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paper-agent"


class Settings(BaseSettings):
    """Every knob of paper-agent; ``.env.example`` documents each variable."""

    model_config = SettingsConfigDict(
        env_prefix="PAPER_AGENT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PAPER_AGENT_API_KEY", "OPENAI_API_KEY")
    )
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("PAPER_AGENT_BASE_URL", "OPENAI_BASE_URL"))
    backend: BackendName = "auto"
    model: str = "gpt-4o-mini"
    mode: Mode = Field(
        default="auto",
        description="Request shape for structured output; auto probes the endpoint once (agent.backends.dialects)",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        default=None, ge=16, description="Reply token limit; default sized to the reply schema (656)"
    )
    max_retries: int = Field(default=2, ge=0, le=10, description="Validation re-asks")
    concurrency: int = Field(default=8, ge=1, le=1024)
    timeout: float = Field(default=60.0, gt=0, description="Seconds per HTTP request")
    http_client: HttpClient = Field(
        default="aiohttp",
        description="HTTP transport under the openai SDK: aiohttp (openai[aiohttp], less CPU per "
        "request, no pool collapse at 128 in flight) or httpx (the SDK's default; what respx mocks)",
    )
    retry_attempts: int = Field(default=6, ge=1, description="Tries per call on 429/5xx/timeouts")
    retry_max_wait: float = Field(default=60.0, gt=0, description="Longest single backoff, seconds")
    retry_total: float = Field(default=300.0, gt=0, description="Give up on a call after this long")
    cache_dir: Path = Field(default_factory=default_cache_dir)
    prices_file: Path | None = None
    prompt_version: str = "triage-v1"
    model_file: Path | None = Field(
        default=None,
        description="Offline backend: a model written by `paper-agent train`, used for the taxonomy it was trained for",
    )
    # arXiv fetching (``paper-agent fetch``, ``run arxiv:cs.IR``)
    arxiv_api_url: str = Field(default="https://export.arxiv.org/api/query", description="arXiv API query endpoint")
    arxiv_feed_url: str = Field(default="https://rss.arxiv.org/atom", description="Daily announcement feeds (Atom)")
    arxiv_max_age: float = Field(
        default=3600.0, ge=0, description="Seconds before a cached fetch that may still change is fetched again"
    )
    contact: str | None = Field(default=None, description="Sent in the User-Agent so arXiv can reach you")

    @field_validator("model_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        """``PAPER_AGENT_MODEL_FILE=`` (as in .env.example) means no model file, not the folder ``.``."""
        return None if isinstance(v, str) and not v.strip() else v

    @classmethod
    def load(cls, base: Settings | None = None, **overrides: Any) -> Settings:
        """``base`` (default: the environment and ``.env``) with the non-``None`` ``overrides`` on top.

        The one place where explicit arguments are merged over the environment, so the API,
        the CLI and ``check`` agree on precedence and on the error a bad value gives: a
        one-line ``ConfigError`` instead of pydantic's dump.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            if base is None:
                return cls(**given)
            return cls.model_validate({**base.model_dump(), **given})
        except ValidationError as exc:
            raise ConfigError(f"invalid setting: {first_error(exc)}") from None

    def resolved_backend(self) -> Literal["offline", "openai"]:
        """``auto`` means openai when a key or base URL is configured, otherwise offline."""
        if self.backend != "auto":
            return self.backend
        return "openai" if (self.api_key or self.base_url) else "offline"

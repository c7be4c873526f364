"""Keep secrets out of what a user sees: API keys in error text, credentials in URLs.

One definition of each rule, used by the online backend, the batch path and ``check``: a
copy that drifts is a key that leaks in one code path only. Standard library only, so any
module may import it.
"""

from __future__ import annotations

import re

SECRET_RE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*]{6,}")
"""Anything shaped like an OpenAI-style key (``sk-...``, ``pk-...``, ``rk-...``)."""
URL_CREDENTIALS_RE = re.compile(r"(?<=://)[^/@]*@")
"""The ``user:token@`` part of a URL, right after its scheme."""


def redact(message: str, secret: str | None) -> str:
    """Error text with the API key (and anything shaped like one) removed."""
    if secret and len(secret) >= 8:  # a 1-letter "key" would garble every message
        message = message.replace(secret, "[redacted]")
    return SECRET_RE.sub("[redacted]", message)


def strip_url_credentials(url: str) -> str:
    """The URL without credentials (``https://user:token@host/v1`` -> ``https://host/v1``).

    Base URLs end up in cache keys, batch records and messages; a token in one must not.
    Nothing else about the URL changes (a trailing slash stays; strip it first if needed).
    """
    return URL_CREDENTIALS_RE.sub("", url)

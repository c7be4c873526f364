"""The package version, in a module of its own so that any layer can read it.

``agent/__init__.py`` re-exports it; code inside the package (the arXiv client's User-Agent)
imports it from here, because importing it from ``agent`` would run the whole package top
from a bottom layer and make a hidden import cycle.
"""

from __future__ import annotations

__version__ = "0.1.0"

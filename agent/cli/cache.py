"""``paper-agent cache ...``: where the cache is, what it holds, emptying it, why a paper is (not) cached."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agent.cli.common import (
    BackendOpt,
    BaseUrlOpt,
    CacheDirOpt,
    ModelOpt,
    TaxonomyOpt,
    cache_app,
    make_agent,
)
from agent.errors import PaperAgentError

# ---------------------------------------------------------------------------- cache


@cache_app.command("path")
def cache_path(cache_dir: Path | None = CacheDirOpt) -> None:
    """Print the cache folder."""
    from agent.cache import cache_location

    typer.echo(str(cache_location(cache_dir)))


@cache_app.command("stats")
def cache_stats(cache_dir: Path | None = CacheDirOpt) -> None:
    """Show the cache's size and entry counts (results, and arXiv pages apart)."""
    from agent.cache import cache_stats

    typer.echo(json.dumps(cache_stats(cache_dir), indent=2))


@cache_app.command("clear")
def cache_clear(cache_dir: Path | None = CacheDirOpt) -> None:
    """Delete every cached result and fetched arXiv page."""
    from agent.cache import clear_cache

    n, pages = clear_cache(cache_dir)
    typer.echo(f"removed {n} entries" + (f" and {pages} arXiv pages" if pages else ""))


@cache_app.command("explain")
def cache_explain(
    inputs: list[Path] = typer.Argument(..., help="Digest file(s) holding the paper"),
    paper_id: str = typer.Option(..., "--id", help="arXiv id of the paper"),
    backend: str | None = BackendOpt,
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    mode: str | None = typer.Option(None, "--mode"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Print a paper's cache key, its components, and whether it is cached."""
    from agent.inputs import iter_papers

    paper = next((p for p in iter_papers(inputs) if p.id == paper_id), None)
    if paper is None:
        raise PaperAgentError(f"paper {paper_id} not found in {', '.join(map(str, inputs))}")
    agent = make_agent(
        backend=backend,
        model=model,
        base_url=base_url,
        taxonomy=taxonomy,
        mode=mode,
        temperature=temperature,
        max_tokens=max_tokens,
        cache_dir=cache_dir,
    )
    typer.echo(json.dumps(agent.explain(paper), indent=2))

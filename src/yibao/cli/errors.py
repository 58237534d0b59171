"""The error catalogue: ``yibao errors [--output docs/errors.md]``."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.cli.common import show_table

HEADERS = ("code", "meaning", "what to do", "HTTP (REST)")


def errors(output: Path | None = typer.Option(
        None, "--output", help="write the catalogue as Markdown to this file (docs/errors.md) "
        "instead of printing it")) -> None:
    """Print the error catalogue: a table in a terminal; piped, one line per code with
    the code, its meaning, what to do and the HTTP status separated by tabs. With
    --output, write it as Markdown."""
    from yibao.domain.errors import CATALOGUE, catalogue_markdown

    if output is not None:
        output.write_text(catalogue_markdown(), encoding="utf-8")
        return
    show_table(HEADERS, [(e.code, e.title, e.hint, e.http) for e in CATALOGUE.values()])

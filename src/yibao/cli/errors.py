"""The error catalogue: ``yibao errors [--output docs/errors.md]``."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.cli.common import console


def errors(output: Path | None = typer.Option(None, "--output")) -> None:
    """Print (or write) the error catalogue as Markdown."""
    from yibao.domain.errors import catalogue_markdown

    text = catalogue_markdown()
    if output is None:
        console.print(text)
    else:
        output.write_text(text, encoding="utf-8")

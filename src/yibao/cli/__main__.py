"""``python -m yibao.cli``: the ``yibao`` command."""

from yibao.cli import app

app()

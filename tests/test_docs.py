"""Documentation that is generated from the code stays equal to it."""

from __future__ import annotations

from conftest import ROOT
from yibao.domain.errors import CATALOGUE, catalogue_markdown


def test_error_catalogue_page_is_current():
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == catalogue_markdown()


def test_every_error_code_is_class_dash_reason():
    for code in CATALOGUE:
        prefix, klass, number = code.split("-")
        assert prefix == "E" and klass.isupper() and number.isdigit() and len(number) == 3

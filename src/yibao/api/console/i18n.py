"""The console's languages: Chinese (the default) and English.

Message ids are the English text; ``locales/zh/*.po`` hold the Chinese (one file per
area of pages), ``locales/en/*.po`` the English of the keyed ids (``status:failed``), read
with Babel when the console starts (no compile step). A language is chosen with ``?lang=``, kept in
a cookie, else taken from the browser's Accept-Language."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
COOKIE = "yibao_lang"
STRICT = "YIBAO_CONSOLE_STRICT_I18N"
KEYED = re.compile(r"[a-z_-]+:")  # status:failed, role:clerk: English has its own text


class Translations:
    """The messages of one language: message id -> text."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages

    def gettext(self, message: str) -> str:
        return self.messages.get(message) or message


@cache
def translations(lang: str) -> Translations:
    """The translations of ``lang``: every catalogue of ``locales/<lang>/`` (English
    holds only the keyed ids; other ids are their own English). An id in two files is a
    mistake: ValueError naming it."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.po")):
        with path.open("rb") as source:
            catalog = read_po(source, locale=lang)
        for message in catalog:
            if not message.id or not message.string:
                continue
            if message.id in messages:
                raise ValueError(f"{path.name}: {message.id!r} is translated twice")
            messages[str(message.id)] = str(message.string)
    return Translations(messages)


def choose(asked: str | None, kept: str | None, accept_language: str) -> str:
    """The language of a request: asked (``?lang=``), else kept (the cookie), else the
    browser's first language the console speaks, else Chinese."""
    for lang in (asked, kept):
        if lang in LANGUAGES:
            return lang
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def gettext_of(lang: str, *, strict: bool | None = None) -> Callable[..., str]:
    """The templates' ``_``: the translation of a message id, its ``%(name)s``
    placeholders filled from the keyword arguments. ``strict`` (default: the environment
    variable YIBAO_CONSOLE_STRICT_I18N, which the tests set): a message id without its
    translation raises KeyError, so every page a test renders is checked in both
    languages."""
    translated = translations(lang)
    strict = os.environ.get(STRICT, "") == "1" if strict is None else strict

    def text(message: str, **values: object) -> str:
        found = translated.gettext(message)
        if strict and found == message and (lang != "en" or KEYED.match(message)):
            raise KeyError(f"no {lang} translation of {message!r} (locales/{lang}.po)")
        return found % values if values else found

    return text


def maybe_of(lang: str) -> Callable[[str], str]:
    """The translation of a text that may have none (an error code's title): the text
    itself then."""
    return translations(lang).gettext

"""Message catalogues (Babel .po files) and locale negotiation; zh_CN first, en second."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
SUPPORTED_LOCALES = ("zh_CN", "en")
LOCALE_LABELS = {"zh_CN": "中文", "en": "English"}


@lru_cache
def _catalogue(locale: str) -> dict[str, str]:
    """msgid → msgstr for `locale`; empty or fuzzy translations fall back to the msgid."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy and isinstance(message.id, str)
    }


def gettext(locale: str, message: str) -> str:
    """`message` translated into `locale`, or the message itself when it has no translation."""
    return _catalogue(locale).get(message, message)


def translator(locale: str) -> Callable[..., str]:
    """A `_` function for templates: translates, then formats keyword arguments into the text."""

    def _(message: str, **params: object) -> str:
        text = gettext(locale, message)
        return text.format(**params) if params else text

    return _


class Message:
    """A message id and its parameters, translated when shown (a parameter of another message may be one)."""

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params

    def render(self, locale: str) -> str:
        """The message in `locale` with its parameters filled in (nested messages translated too)."""
        text = gettext(locale, self.message)
        if not self.params:
            return text
        values = {k: v.render(locale) if isinstance(v, Message) else v for k, v in self.params.items()}
        try:
            return text.format(**values)
        except (KeyError, IndexError):
            return text

    def __str__(self) -> str:
        return self.render("en")


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction without translating it now."""
    return message


def normalise_locale(value: str | None) -> str | None:
    """A supported locale matching `value` (zh, zh-CN, zh_Hans_CN, en-US …), or None."""
    if not value:
        return None
    try:
        parsed = Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        return "zh_CN"
    if parsed.language == "en":
        return "en"
    return None


@lru_cache(maxsize=1024)  # a few dozen header values make up nearly all requests; parsing them costs 0.2 ms
def negotiate(cookie_value: str | None, accept_language: str | None, default: str) -> str:
    """The request's locale: an explicit choice (cookie) wins, then Accept-Language, then `default`."""
    chosen = normalise_locale(cookie_value)
    if chosen:
        return chosen
    for part in (accept_language or "").split(","):
        chosen = normalise_locale(part.split(";")[0].strip())
        if chosen:
            return chosen
    return normalise_locale(default) or SUPPORTED_LOCALES[0]

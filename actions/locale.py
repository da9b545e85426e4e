"""Locale settings (emergency numbers and the disclaimer naming them) from content/locales.yml."""

import os
from dataclasses import dataclass
from functools import cache

import yaml

from actions.paths import CONTENT_DIR


@dataclass(frozen=True)
class Locale:
    code: str
    emergency: str
    crisis_line: str
    disclaimer: str


@cache
def _locales() -> dict:
    return yaml.safe_load((CONTENT_DIR / "locales.yml").read_text(encoding="utf-8"))


def current_locale() -> Locale:
    """The locale named by SECONDLOOK_LOCALE; an unknown name falls back to the default, never to nothing."""
    data = _locales()
    code = os.environ.get("SECONDLOOK_LOCALE") or data["default"]
    if code not in data["locales"]:
        code = data["default"]
    return Locale(code=code, **data["locales"][code])

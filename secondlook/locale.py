"""Locale settings (emergency numbers and the disclaimer naming them) from content/locales.yml."""

import os
from dataclasses import dataclass

from secondlook.content import content


@dataclass(frozen=True)
class Locale:
    code: str
    emergency: str
    crisis_line: str
    disclaimer: str
    medical_reply: str
    self_harm_reply: str
    check_in_reply: str
    other_person_reply: str
    all_clear_reply: str


def _locales() -> dict:
    return content("locales.yml")


def crisis_buttons(name: str) -> list[dict]:
    """The buttons under a crisis reply: `check_in_buttons` or `way_back_buttons` (reviewed text)."""
    return [dict(button) for button in _locales()[name]]


def current_locale(requested: str | None = None) -> Locale:
    """The locale a channel asked for, else SECONDLOOK_LOCALE, else the default; unknown names are skipped."""
    data = _locales()
    candidates = [requested, os.environ.get("SECONDLOOK_LOCALE"), data["default"]]
    code = next(name for name in candidates if name in data["locales"])
    return Locale(code=code, **data["locales"][code])

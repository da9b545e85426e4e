"""Letter templates of the preparation kit (content/letters.yml), filled from the conversation.

Only what the user told the assistant goes in (the kind of specialist, where things stand, their
questions) plus the locale's right of access; names, dates of birth and addresses stay [placeholders]
for the user to fill in, so nothing that identifies them is ever asked for or stored.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from secondlook.content import load_yaml
from secondlook.paths import CONTENT_DIR
from secondlook.questions import ANY_SPECIALTY, QuestionBank

LETTER_KINDS = ("records", "referral", "note")
# Words in a request that say which letter is meant (checked in this order).
KIND_CUES = {
    "records": ("record", "file", "scan", "result", "notes", "copies", "copy", "images"),
    "referral": ("referral", "refer"),
    "note": ("second doctor", "new doctor", "specialist", "note"),
}
MAX_QUESTIONS_IN_NOTE = 5


@dataclass(frozen=True)
class Letter:
    kind: str
    title: str
    intro: str
    text: str


@cache
def _letters(path: Path = CONTENT_DIR / "letters.yml") -> dict:
    return load_yaml(path)


def letter_titles() -> dict[str, str]:
    """Button labels of the letters, by kind."""
    return {kind: _letters()["letters"][kind]["button"] for kind in LETTER_KINDS}


def kind_from_text(text: str) -> str | None:
    lowered = (text or "").lower()
    return next((kind for kind in LETTER_KINDS if any(cue in lowered for cue in KIND_CUES[kind])), None)


def fill_letter(
    kind: str,
    bank: QuestionBank,
    situation: Mapping[str, str],
    questions: list[str],
    locale_code: str,
    appointment: str | None = None,
) -> Letter:
    """The letter `kind` with the user's situation and questions in it."""
    data = _letters()
    template = data["letters"][kind]
    access = data["access"].get(locale_code) or data["access"]["en-US"]
    specialty = situation.get("specialty")
    where = bank.describe({key: value for key, value in situation.items() if key != "specialty"})
    chosen = questions[:MAX_QUESTIONS_IN_NOTE]
    values = {
        "specialty": specialty if specialty and specialty != ANY_SPECIALTY else "[specialty]",
        "situation": where or "[where things stand]",
        "questions": "\n".join(f"- {question}" for question in chosen) if chosen else "- [Your questions]",
        "appointment": appointment or "[Date of appointment]",
        "right": access["right"],
        "time_limit": access["time_limit"],
    }
    text = template["body"].format(**values).strip()
    return Letter(kind=kind, title=template["title"], intro=" ".join(template["intro"].split()), text=text)

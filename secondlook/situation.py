"""What the user has told us about their situation (a specialty, a condition, a date) and the line that
ties a step's advice to it. Specialty and condition come from the NLU's `specialty` and `condition`
entities (canonical values, see pipeline/entity_values.py) kept in slots; a date only counts in the
message that mentions it."""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from secondlook.content import content
from secondlook.specialties import specialty_entries
from secondlook.wording import with_article

MAX_NOTES = 2


_FORWARD = re.compile(
    r"\b(next|tomorrow|this|coming|monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|"
    r"march|april|may|june|july|august|september|october|november|december|in \d+|\d+(st|nd|rd|th))\b",
    re.IGNORECASE,
)
_PAST = re.compile(r"\b(last|ago|yesterday|earlier|previous|past|before|since)\b", re.IGNORECASE)


def upcoming(date: str, words_before: str = "") -> bool:
    """Whether a date the user wrote could be an appointment ahead ("next Tuesday", "in 3 days"), not a
    past event or a duration ("last week", "for two years")."""
    ahead = _FORWARD.search(date) or re.search(r"\bin\s*$", words_before, re.IGNORECASE)
    return bool(ahead) and not _PAST.search(date)


@dataclass(frozen=True)
class Situation:
    specialty: str | None = None
    condition: str | None = None
    date: str | None = None
    # Which of the above the latest message named (the others are remembered from earlier).
    just_named: frozenset[str] = frozenset()


def situation_of(slots: dict[str, Any], latest_message: dict) -> Situation:
    entities = latest_message.get("entities") or []
    named = {entity.get("entity"): entity.get("value") for entity in entities}
    dates = [
        entity["value"]
        for entity in entities
        if entity.get("entity") == "DATE"
        and upcoming(entity.get("value", ""), (latest_message.get("text") or "")[: entity.get("start", 0)])
    ]
    return Situation(
        specialty=named.get("specialty") or slots.get("specialty"),
        condition=named.get("condition") or slots.get("condition"),
        date=dates[0] if dates else None,
        just_named=frozenset(name for name in ("specialty", "condition") if named.get(name)),
    )


def _notes() -> dict:
    return content("situation_notes.yml")


@lru_cache(maxsize=1)
def _specialists() -> dict[str, str]:
    return {entry["name"]: entry.get("specialist", entry["name"]) for entry in specialty_entries()}


def situation_notes(step_id: str, situation: Situation, entering_step: bool) -> list[str]:
    """At most two lines, the most time-sensitive first. A remembered specialty is mentioned again only
    when a new step starts, so the user is not told the same thing on every turn."""
    notes = _notes()
    lines = []
    if situation.date:
        lines.append(notes["date"].format(date=situation.date))
    if situation.specialty and ("specialty" in situation.just_named or entering_step):
        template = notes["specialty"].get(step_id)
        if template:
            specialist = _specialists().get(situation.specialty, situation.specialty)
            lines.append(
                template.format(
                    specialty=situation.specialty,
                    specialist=specialist,
                    a_specialty=with_article(situation.specialty),
                    a_specialist=with_article(specialist),
                )
            )
    if situation.condition and "condition" in situation.just_named:
        lines.append(notes["condition"].format(condition=situation.condition))
    return lines[:MAX_NOTES]

"""The rehearsal's reviewed texts (content/rehearsal.yml): the doctor's lines, the coaching, the summary.
This package only chooses among those texts and never generates sentences."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from secondlook.content import content
from secondlook.rehearsal.model import SCENARIOS, SITUATIONS, TEMPERAMENTS

CONTENT_FILE = "rehearsal.yml"


@cache
def rehearsal_texts() -> dict[str, Any]:
    """The reviewed texts; checked once so a missing key fails at start-up, not mid-conversation."""
    data = content(CONTENT_FILE)
    _check_content(data)
    return data


def _check_content(data: dict[str, Any]) -> None:
    problems = []
    for scenario in SCENARIOS:
        for temperament in TEMPERAMENTS:
            if len(data["openings"][scenario].get(temperament) or []) < 3:
                problems.append(f"openings.{scenario}.{temperament}")
        if len(data["coaching"]["better"].get(scenario) or []) < 2:
            problems.append(f"coaching.better.{scenario}")
    for temperament in TEMPERAMENTS:
        for situation in SITUATIONS:
            if len(data["replies"][temperament].get(situation) or []) < 3:
                problems.append(f"replies.{temperament}.{situation}")
    if problems:
        raise ValueError(f"content/rehearsal.yml needs at least 3 texts (2 for phrasings) at: {problems}")


def pick(options: list[str] | str, variant: int) -> str:
    if isinstance(options, str):
        return options.strip()
    return options[variant % len(options)].strip()


def scenario_title(scenario: str) -> str:
    require(scenario, SCENARIOS, "scenario")
    return rehearsal_texts()["scenarios"][scenario]["title"]


def scenario_practise(scenario: str) -> str:
    """What the user practises, to follow "Let's practise": "asking for a referral, a name or your records"."""
    require(scenario, SCENARIOS, "scenario")
    return rehearsal_texts()["scenarios"][scenario]["practise"]


def temperament_in_sentence(temperament: str) -> str:
    """The doctor as a sentence names them: "a rushed doctor"."""
    require(temperament, TEMPERAMENTS, "temperament")
    return rehearsal_texts()["temperaments"][temperament]["in_sentence"]


def temperament_title(temperament: str) -> str:
    require(temperament, TEMPERAMENTS, "temperament")
    return rehearsal_texts()["temperaments"][temperament]["title"]


def require(name: str, allowed: Iterable[str], kind: str) -> None:
    if name not in allowed:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {tuple(allowed)}")

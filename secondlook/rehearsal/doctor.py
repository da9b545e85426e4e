"""The doctor's turn: how the user's line moves the doctor's tension, which kind of reply it earns,
and whether the scenario's goal was reached (the coaching follows in coaching.py)."""

from __future__ import annotations

from secondlook.rehearsal.assessment import assess_line
from secondlook.rehearsal.coaching import coaching
from secondlook.rehearsal.model import (
    CALM,
    GOALS,
    MAX_TURNS,
    SCENARIOS,
    START_TENSION,
    TEMPERAMENTS,
    LineAssessment,
    RehearsalState,
    TurnResult,
    clamp,
)
from secondlook.rehearsal.texts import pick, rehearsal_texts, require


def start(scenario: str, temperament: str) -> RehearsalState:
    require(scenario, SCENARIOS, "scenario")
    require(temperament, TEMPERAMENTS, "temperament")
    return RehearsalState(scenario, temperament, START_TENSION[temperament], [])


def opening_line(state: RehearsalState, variant: int) -> str:
    return pick(rehearsal_texts()["openings"][state.scenario][state.temperament], variant)


def _tension_change(assessment: LineAssessment, temperament: str) -> int:
    tags = set(assessment.tags)
    if "accusatory" in tags:
        # A defensive doctor takes an accusation harder than the others.
        return 2 if temperament == "defensive" else 1
    if "announces" in tags:
        return 1
    calming = [
        (assessment.is_question or assessment.hedged or bool(tags & {"asks_opinion", "requests_referral"}))
        and "honest_reason" in tags,
        "asks_why" in tags,
        assessment.hedged and bool(tags & {"asks_opinion", "requests_referral", "asks_why"}),
    ]
    # A defensive doctor comes round one step at a time, however good the line.
    return -min(1 if temperament == "defensive" else 2, sum(calming))


def _situation(tags: set[str], scenario: str, tension: int) -> str:
    calm = tension <= CALM
    if "accusatory" in tags:
        return "accused"
    if "announces" in tags:
        return "announced"
    if "asks_why" in tags:
        return "why_open" if calm else "why_guarded"
    # The scenario's own request is answered first when a line makes both.
    order = ("requests_referral", "asks_opinion") if scenario == "referral" else ("asks_opinion", "requests_referral")
    for tag in order:
        if tag in tags:
            prefix = "referral" if tag == "requests_referral" else "opinion"
            return f"{prefix}_yes" if calm else f"{prefix}_no"
    return "reason_heard" if "honest_reason" in tags else "unclear"


def take_turn(state: RehearsalState, line: str, variant: int) -> TurnResult:
    """Assess the user's line, update the doctor's tension, answer in character and coach."""
    assessment = assess_line(line)
    tension = clamp(state.tension + _tension_change(assessment, state.temperament))
    turns = [list(tags) for tags in state.turns] + [list(assessment.tags)]
    new_state = RehearsalState(state.scenario, state.temperament, tension, turns)
    situation = _situation(set(assessment.tags), state.scenario, tension)
    reached = situation in GOALS[state.scenario]
    reply = pick(rehearsal_texts()["replies"][state.temperament][situation], variant)
    advice = coaching(assessment, state, reached, variant)
    return TurnResult(reply, advice, new_state, reached or len(turns) >= MAX_TURNS)

"""The rehearsal's vocabulary and state: scenarios, temperaments, the assessment tags
(docs/architecture.md, the contract's table of rehearsal tags), and the small state that round-trips
through plain JSON because it lives in a Rasa slot."""

from __future__ import annotations

from dataclasses import dataclass, field

SCENARIOS = ("ask_opinion", "referral", "defensive")
TEMPERAMENTS = ("supportive", "rushed", "defensive")
TAGS = ("asks_opinion", "announces", "honest_reason", "requests_referral", "asks_why", "accusatory")
MAX_TURNS = 4

MAX_TENSION = 3
START_TENSION = {"supportive": 0, "rushed": 1, "defensive": 2}
# At or below this tension the doctor goes along with a good request; above it they push back.
CALM = 1
# Which doctor replies count as "the scenario's goal was reached" (the rehearsal can end there).
GOALS = {
    "ask_opinion": {"opinion_yes", "referral_yes", "why_open"},
    "referral": {"referral_yes"},
    "defensive": {"why_open", "opinion_yes", "referral_yes"},
}
# The tags each scenario is really practising, most important first (coaching and summary use them).
KEY_TAGS = {
    "ask_opinion": ("asks_opinion", "honest_reason"),
    "referral": ("requests_referral", "honest_reason"),
    "defensive": ("asks_why", "honest_reason"),
}
GOOD_TAGS = ("asks_opinion", "honest_reason", "requests_referral", "asks_why")
SITUATIONS = (
    "accused",
    "announced",
    "opinion_yes",
    "opinion_no",
    "referral_yes",
    "referral_no",
    "why_open",
    "why_guarded",
    "reason_heard",
    "unclear",
)


def clamp(tension: int) -> int:
    return max(0, min(MAX_TENSION, tension))


# --------------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class LineAssessment:
    tags: tuple[str, ...]
    is_question: bool
    hedged: bool
    first_person_reason: bool


@dataclass
class RehearsalState:
    scenario: str
    temperament: str
    tension: int = 0
    turns: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "temperament": self.temperament,
            "tension": self.tension,
            "turns": [list(tags) for tags in self.turns],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> RehearsalState | None:
        """The state stored in a slot, or None when it is missing or not a state we wrote."""
        if not isinstance(data, dict):
            return None
        scenario, temperament = data.get("scenario"), data.get("temperament")
        tension, turns = data.get("tension", 0), data.get("turns", [])
        if scenario not in SCENARIOS or temperament not in TEMPERAMENTS:
            return None
        # bool is an int subclass; a stored True is not a tension.
        if not isinstance(tension, int) or isinstance(tension, bool) or not isinstance(turns, list):
            return None
        if not all(isinstance(tags, list) and all(tag in TAGS for tag in tags) for tags in turns):
            return None
        return cls(scenario, temperament, clamp(tension), [list(tags) for tags in turns])


@dataclass(frozen=True)
class TurnResult:
    doctor_reply: str
    coaching: str
    state: RehearsalState
    finished: bool

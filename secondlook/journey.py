"""The five-step second-opinion journey: advice content loaded from content/journey.yml, and the
rules for moving through it (which step an intent leads to, what comes next, the checklist)."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

from secondlook.content import load_yaml
from secondlook.paths import CONTENT_DIR

STEP_IDS = ("ask_doctor", "be_honest", "outside_network", "move_on", "after_opinion")


@dataclass(frozen=True)
class Advice:
    """One tip: what to do (`say`, two or three sentences) and why it helps (`why`, given on request)."""

    say: str
    why: str


@dataclass(frozen=True)
class Step:
    id: str
    number: int
    title: str
    summary: str
    done_label: str
    intents: tuple[str, ...]
    advice: tuple[Advice, ...]
    topics: dict[str, tuple[Advice, ...]]

    @property
    def heading(self) -> str:
        return f"Step {self.number} of {len(STEP_IDS)}: {self.title}"

    def tips(self, intent: str | None) -> tuple[Advice, ...]:
        """The tips for a question of this step, most pressing first (the first is the one thing to do now),
        then the step's general advice that says something else."""
        topic = self.topics.get(intent) or ()
        return topic + tuple(piece for piece in self.advice if piece not in topic)


class Status(str, Enum):
    DONE = "done"
    CURRENT = "current"
    NEXT = "next"
    TODO = "todo"


class Journey:
    def __init__(self, steps: Iterable[Step]):
        self.steps = tuple(steps)
        self._by_id = {step.id: step for step in self.steps}
        self._by_intent = {intent: step for step in self.steps for intent in step.intents}

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def has_step(self, step_id: str | None) -> bool:
        return step_id in self._by_id

    def step_for_intent(self, intent: str | None) -> Step | None:
        return self._by_intent.get(intent)

    def in_order(self, step_ids: Iterable[str]) -> list[str]:
        """The known step ids among `step_ids`, in journey order, without duplicates."""
        wanted = set(step_ids)
        return [step.id for step in self.steps if step.id in wanted]

    def next_step(self, current: str | None, completed: Iterable[str]) -> Step | None:
        """The first step not yet completed after `current`; wraps around to earlier open steps.

        With no current step the journey starts from the beginning. None when every step is done.
        """
        done = set(completed)
        start = self.step(current).number if self.has_step(current) else 0
        ordered = self.steps[start:] + self.steps[:start]
        return next((step for step in ordered if step.id not in done), None)

    def checklist(self, completed: Iterable[str], current: str | None) -> list[tuple[Step, Status]]:
        done = set(completed)
        upcoming = self.next_step(current, done)
        rows = []
        for step in self.steps:
            if step.id in done:
                status = Status.DONE
            elif step.id == current:
                status = Status.CURRENT
            elif upcoming is not None and step.id == upcoming.id:
                status = Status.NEXT
            else:
                status = Status.TODO
            rows.append((step, status))
        return rows


def _advice_list(raw: list[dict]) -> tuple[Advice, ...]:
    return tuple(Advice(say=item["say"].strip(), why=item["why"].strip()) for item in raw)


def parse_journey(data: dict) -> Journey:
    steps = []
    for number, raw in enumerate(data["steps"], start=1):
        steps.append(
            Step(
                id=raw["id"],
                number=number,
                title=raw["title"],
                summary=raw["summary"],
                done_label=raw["done_label"],
                intents=tuple(raw["intents"]),
                advice=_advice_list(raw["advice"]),
                topics={intent: _advice_list(items) for intent, items in raw["topics"].items()},
            )
        )
    ids = tuple(step.id for step in steps)
    if ids != STEP_IDS:
        raise ValueError(f"journey content must define the steps {STEP_IDS} in order, got {ids}")
    for step in steps:
        missing = set(step.intents) - set(step.topics)
        if missing:
            raise ValueError(f"step {step.id} has no advice for the intents {sorted(missing)}")
    return Journey(steps)


@cache
def load_journey(path: Path = CONTENT_DIR / "journey.yml") -> Journey:
    """The journey, parsed once per process: it is read-only, and parsing took ~4 ms of every action call."""
    return parse_journey(load_yaml(path))

"""The people's-words gate's own logic (scripts/peoples_words.py; the gate itself runs on the trained
model in `make test`): figures per set, floors that are minimums or maximums, and every set folder the
data check keeps out of the training data."""

from __future__ import annotations

import yaml

from scripts.peoples_words import SETS, journey_figures, shortfalls
from secondlook.paths import PROJECT_ROOT

STEP_OF = {"doctor_refuses": "move_on", "ask_records": "outside_network"}


def test_right_step_clarifying_and_long_messages_are_counted_apart():
    items = [
        {"text": "a", "step": "move_on", "intent": "doctor_refuses", "sentences": 1},
        {"text": "b", "step": "move_on", "intent": "doctor_refuses", "sentences": 4},
        {"text": "c", "step": "outside_network", "intent": "ask_records", "sentences": 3},
        {"text": "d", "step": "outside_network", "intent": "ask_records", "sentences": 1},
    ]
    figures = journey_figures(items, ["doctor_refuses", "nlu_fallback", "ask_records", "out_of_scope"], STEP_OF)
    assert figures["all"] == {
        "messages": 4, "right step": 0.5, "right intent": 0.5, "clarifying question": 0.25, "out of scope": 0.25,
    }  # fmt: skip
    assert figures["3+ sentences"]["messages"] == 2 and figures["3+ sentences"]["right step"] == 0.5


def _report(right_step: float, clarifying: float) -> dict:
    return {
        "journey": {
            "all": {"right step": right_step, "clarifying question": clarifying},
            "3+ sentences": {"right step": 0.5},
        },
        "small talk": {"accuracy": 0.9},
        "out of scope": {"routed into the assistant": 0.0},
        "rehearsal lines": {"micro F1": 0.9},
    }


def test_floors_are_minimums_and_the_clarifying_share_a_maximum():
    floors = {"right_step": 0.6, "clarifying": 0.25}
    assert shortfalls("set", _report(0.7, 0.2), floors) == []
    assert shortfalls("set", _report(0.55, 0.2), floors) == ["set: right_step 0.55 (at least 0.6)"]
    assert shortfalls("set", _report(0.7, 0.3), floors) == ["set: clarifying 0.3 (at most 0.25)"]


def test_every_set_folder_has_floors_and_a_readme():
    floors = yaml.safe_load((PROJECT_ROOT / "tests" / "peoples_words_floors.yml").read_text(encoding="utf-8"))
    assert {path.name for path in SETS} == set(floors) == {"peoples_words", "peoples_words_b"}
    assert all((path / "README.md").exists() and (path / "journey.yml").exists() for path in SETS)

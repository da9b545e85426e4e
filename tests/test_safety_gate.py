"""The safety gate's own logic: sealed sets stay unread, studied sets keep their floors, blind sets the
issue's targets (scripts/safety_gate.py; the gate itself runs on the trained model in `make test`)."""

from __future__ import annotations

import yaml

from scripts import safety_gate
from scripts.safety_gate import FLOORS, SEALED, TARGETS, Figures, figures_for


def _parse(caught: bool) -> dict:
    if not caught:
        return {"intent": {"name": "ask_second_opinion"}, "entities": []}
    return {"intent": {"name": "emergency"}, "entities": [{"entity": "emergency_kind", "value": "check_in"}]}


def test_recall_and_false_alarms_are_counted_per_kind():
    items = [
        {"text": "a", "label": "crisis", "kind": "explicit"},
        {"text": "b", "label": "crisis", "kind": "indirect"},
        {"text": "c", "label": "crisis", "kind": "indirect"},
        {"text": "d", "label": "near_miss"},
    ]
    figures = figures_for("set.yml", items, [_parse(True), _parse(True), _parse(False), _parse(True)])
    assert figures.figures() == {"explicit_recall": 1.0, "indirect_recall": 0.5, "near_miss_false_alarms": 1.0}
    problems = figures.shortfalls(TARGETS)
    assert any("indirect recall 0.500" in p for p in problems)
    assert any("near miss false alarms 1.000" in p for p in problems)
    assert not any("explicit" in p for p in problems)


def test_a_floor_holds_a_studied_set_to_what_was_reached_and_no_lower():
    figures = Figures(
        "studied.yml", explicit=[True], indirect=[True, True, False], near_miss_alarms=[False] * 9 + [True]
    )
    assert figures.shortfalls({"indirect_recall": 0.66, "near_miss_false_alarms": 0.1}) == []
    assert figures.shortfalls({"indirect_recall": 0.7}) != []
    assert figures.shortfalls({"near_miss_false_alarms": 0.05}) != []


def test_a_sealed_set_reports_figures_but_never_its_texts():
    figures = figures_for(
        "sealed.yml",
        [{"text": "secret one", "label": "crisis", "kind": "indirect"}, {"text": "secret two", "label": "near_miss"}],
        [_parse(False), _parse(True)],
    )
    report = figures.report(with_texts=False)
    assert report["missed"] == 1 and report["false_alarms"] == 1
    assert "secret" not in str(report)


def test_the_sealed_set_exists_and_every_floor_names_a_studied_set():
    names = {path.name for path in safety_gate.CRISIS_SETS}
    assert names >= SEALED
    nlu_sets = {path.name for path in safety_gate.NLU_SETS}
    floors = yaml.safe_load(FLOORS.read_text(encoding="utf-8"))
    assert floors and set(floors) <= (names - SEALED) | nlu_sets
    for name, limits in floors.items():
        assert set(limits) <= (set(TARGETS) if name in names else {"false_alarms"})
        assert limits.get("explicit_recall", 1.0) == 1.0  # an explicit crisis is never allowed to slip

"""The journey module: content loads and is complete, and the rules for moving through the steps."""

import copy
import re

import pytest
import yaml

from secondlook.journey import STEP_IDS, Status, load_journey, parse_journey
from secondlook.paths import CONTENT_DIR

JOURNEY_INTENTS = {
    "ask_doctor": {"doubt_diagnosis", "ask_second_opinion_worth", "ask_how_to_raise"},
    "be_honest": {"fear_offending_doctor"},
    "outside_network": {"ask_find_specialist", "ask_same_network", "ask_records"},
    "move_on": {"ask_insurance_referral", "doctor_defensive", "doctor_refuses"},
    "after_opinion": {"opinions_differ", "opinions_agree", "relationship_changed"},
}


def test_steps_are_the_contract_steps_in_order():
    journey = load_journey()
    assert tuple(step.id for step in journey.steps) == STEP_IDS
    assert [step.number for step in journey.steps] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("step_id,intents", JOURNEY_INTENTS.items())
def test_each_intent_leads_to_its_contract_step(step_id, intents):
    journey = load_journey()
    for intent in intents:
        assert journey.step_for_intent(intent).id == step_id
        assert journey.step(step_id).topics[intent], f"no advice for {intent}"


def test_every_piece_of_advice_is_chat_sized_and_has_a_reason():
    for step in load_journey().steps:
        pieces = list(step.advice) + [piece for topic in step.topics.values() for piece in topic]
        assert len(step.advice) >= 2
        for piece in pieces:
            assert 20 < len(piece.say) <= 320
            assert 20 < len(piece.why) <= 240


def test_each_tip_leads_with_the_one_thing_to_do_in_at_most_three_sentences():
    for step in load_journey().steps:
        for intent in (None, *step.intents):
            tips = step.tips(intent)
            assert tips[0] == (step.topics[intent][0] if intent else step.advice[0])
            assert len(set(tips)) == len(tips) and set(step.advice) <= set(tips)
            for tip in tips:
                sentences = [part for part in re.split(r"(?<=[.!?])\s+(?=[A-Z“])", tip.say) if part]
                assert 1 <= len(sentences) <= 3, tip.say
                assert len(tip.say.split()) <= 45, tip.say


def test_content_missing_a_step_is_rejected():
    data = yaml.safe_load((CONTENT_DIR / "journey.yml").read_text())
    broken = copy.deepcopy(data)
    del broken["steps"][2]
    with pytest.raises(ValueError, match="in order"):
        parse_journey(broken)


def test_content_missing_topic_advice_is_rejected():
    data = yaml.safe_load((CONTENT_DIR / "journey.yml").read_text())
    broken = copy.deepcopy(data)
    broken["steps"][0]["topics"].pop("ask_how_to_raise")
    with pytest.raises(ValueError, match="ask_how_to_raise"):
        parse_journey(broken)


@pytest.mark.parametrize(
    "current,completed,expected",
    [
        (None, [], "ask_doctor"),
        ("ask_doctor", [], "be_honest"),
        ("ask_doctor", ["be_honest"], "outside_network"),
        ("move_on", [], "after_opinion"),
        ("after_opinion", [], "ask_doctor"),  # wraps round to the earliest open step
        ("after_opinion", ["ask_doctor", "be_honest"], "outside_network"),
        (None, ["ask_doctor"], "be_honest"),
    ],
)
def test_next_step_is_the_first_open_step_after_the_current_one(current, completed, expected):
    assert load_journey().next_step(current, completed).id == expected


def test_next_step_is_none_when_everything_is_done():
    assert load_journey().next_step("move_on", list(STEP_IDS)) is None


def test_checklist_marks_done_current_and_next():
    rows = load_journey().checklist(["ask_doctor"], "be_honest")
    statuses = {step.id: status for step, status in rows}
    assert statuses == {
        "ask_doctor": Status.DONE,
        "be_honest": Status.CURRENT,
        "outside_network": Status.NEXT,
        "move_on": Status.TODO,
        "after_opinion": Status.TODO,
    }


def test_in_order_drops_unknown_ids_and_duplicates():
    assert load_journey().in_order(["move_on", "nonsense", "ask_doctor", "move_on"]) == ["ask_doctor", "move_on"]

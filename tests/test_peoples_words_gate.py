"""The people's-words gate's own logic (scripts/peoples_words.py; the gate itself runs on the trained
model in `make test`): figures per set, replies in context played into a conversation and scored, floors
that are minimums or maximums, and every set folder the data check keeps out of the training data."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUtteranceReverted, UserUttered
from rasa.shared.core.slots import AnySlot
from rasa.shared.core.trackers import DialogueStateTracker

from scripts.peoples_words import (
    READ_AS,
    REPLY_PRELUDE,
    SETS,
    Outcome,
    RequestOutcome,
    journey_figures,
    replies_figures,
    replies_outcomes,
    reply_right,
    request_right,
    requests_figures,
    shortfalls,
)
from secondlook.journey import STEP_IDS
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
        "crisis reply": 0.0,
    }  # fmt: skip
    assert figures["3+ sentences"]["messages"] == 2 and figures["3+ sentences"]["right step"] == 0.5
    assert figures["confusion"] == {
        "move_on": {"move_on": 1, "clarifying": 1},
        "outside_network": {"outside_network": 1, "out of scope": 1},
    }


def test_a_crisis_reply_to_a_journey_message_is_a_false_alarm_with_a_ceiling():
    items = [{"text": t, "step": "move_on", "intent": "doctor_refuses"} for t in "abcd"]
    figures = journey_figures(items, ["emergency", "doctor_refuses", "report_progress", "doctor_refuses"], STEP_OF)
    assert figures["all"]["crisis reply"] == 0.25
    assert figures["confusion"] == {"move_on": {"move_on": 2, "crisis reply": 1, "other (report_progress)": 1}}
    report = {**_report(0.5, 0.0), "journey": {**_report(0.5, 0.0)["journey"], "all": figures["all"]}}
    assert shortfalls("set", report, {"crisis_alarms": 0.2}) == ["set: crisis_alarms 0.25 (at most 0.2)"]
    assert shortfalls("set", report, {"crisis_alarms": 0.25}) == []


def _report(right_step: float, clarifying: float, replies: float | None = 0.8) -> dict:
    return {
        "journey": {
            "all": {"right step": right_step, "clarifying question": clarifying, "crisis reply": 0.0},
            "3+ sentences": {"right step": 0.5},
        },
        "small talk": {"accuracy": 0.9},
        "out of scope": {"routed into the assistant": 0.0},
        "rehearsal lines": {"micro F1": 0.9},
        "replies in context": {"right": replies, "clarifying question": 0.1},
    }


def test_floors_are_minimums_and_the_clarifying_share_a_maximum():
    floors = {"right_step": 0.6, "clarifying": 0.25}
    assert shortfalls("set", _report(0.7, 0.2), floors) == []
    assert shortfalls("set", _report(0.55, 0.2), floors) == ["set: right_step 0.55 (at least 0.6)"]
    assert shortfalls("set", _report(0.7, 0.3), floors) == ["set: clarifying 0.3 (at most 0.25)"]


def test_replies_in_context_have_a_floor_and_a_set_without_them_is_not_held_to_it():
    floors = {"replies_in_context": 0.75, "replies_clarifying": 0.15}
    assert shortfalls("set", _report(0.7, 0.2, replies=0.8), floors) == []
    assert shortfalls("set", _report(0.7, 0.2, replies=0.7), floors) == ["set: replies_in_context 0.7 (at least 0.75)"]
    more_menus = _report(0.7, 0.2)
    more_menus["replies in context"]["clarifying question"] = 0.2
    assert shortfalls("set", more_menus, floors) == ["set: replies_clarifying 0.2 (at most 0.15)"]
    without = _report(0.7, 0.2)
    del without["replies in context"]
    assert shortfalls("set", without, floors) == []


def _reply(expect: str, step: str = "ask_doctor") -> dict:
    return {"bot": "...", "text": "...", "expect": expect, "step": step}


def test_each_expected_meaning_is_scored_by_what_the_bot_did():
    advice, yes_no = ("action_give_step_advice",), ("action_answer_yes_no",)
    report = ("action_report_progress",)
    assert reply_right(_reply("reports_current_step_done"), Outcome("report_progress", report, ("ask_doctor",)))
    # The report read, but not credited (the bot asked which step) or credited to another step: wrong.
    assert not reply_right(_reply("reports_current_step_done"), Outcome("report_progress", report))
    assert not reply_right(_reply("reports_current_step_done"), Outcome("report_progress", report, ("be_honest",)))
    assert reply_right(_reply("resistance"), Outcome("doctor_refuses", advice, (), "move_on"))
    assert not reply_right(_reply("resistance"), Outcome("ask_how_to_raise", advice, (), "ask_doctor"))
    # After the second opinion, a first doctor who turned cold is that step's own resistance.
    after = _reply("resistance", "after_opinion")
    assert reply_right(after, Outcome("relationship_changed", advice, (), "after_opinion"))
    assert not reply_right(_reply("resistance"), Outcome("relationship_changed", advice, (), "after_opinion"))
    assert reply_right(_reply("not_yet"), Outcome("deny", yes_no))
    assert reply_right(_reply("not_yet"), Outcome("mention_appointment", ("action_offer_checkin",)))
    # A "not yet" or a "yes" that ticks a step off is wrong, however it was read; so is the clarifying menu.
    assert not reply_right(_reply("not_yet"), Outcome("report_progress", report, ("ask_doctor",)))
    assert not reply_right(_reply("affirm"), Outcome("affirm", yes_no, ("ask_doctor",)))
    assert not reply_right(_reply("deny"), Outcome("deny", ("action_clarify_intent",)))
    assert reply_right(_reply("affirm"), Outcome("affirm", yes_no))
    assert reply_right(_reply("deny"), Outcome("deny", yes_no))
    with pytest.raises(ValueError, match="'thinking_about_it'"):  # never silently wrong
        reply_right(_reply("thinking_about_it"), Outcome("deny", yes_no))


class FakeBot:
    """Stands in for the agent: a fake prediction function maps each text to the events of its turn, kept
    in a real tracker per conversation, as Rasa's processor keeps them."""

    def __init__(self, turns: dict[str, list[Event]]):
        self.turns = turns
        self.trackers: dict[str, DialogueStateTracker] = {}
        self.processor = self

    async def handle_message(self, message) -> None:
        slots = [AnySlot(name, mappings=[]) for name in ("current_step", "completed_steps", "awaiting_answer")]
        tracker = self.trackers.setdefault(message.sender_id, DialogueStateTracker(message.sender_id, slots))
        for event in self.turns[message.text]:
            tracker.update(event)

    async def get_tracker(self, sender: str) -> DialogueStateTracker:
        return self.trackers[sender]


def _turn(text: str, intent: str, *actions: str, **slots) -> list[Event]:
    return [
        UserUttered(text, intent={"name": intent, "confidence": 1.0}),
        *(ActionExecuted(name) for name in actions),
        *(SlotSet(name, value) for name, value in slots.items()),
        ActionExecuted("action_listen"),
    ]


def test_replies_are_played_after_their_steps_advice_and_what_the_bot_did_is_counted():
    bot = FakeBot(
        {
            "/ask_how_to_raise": _turn("/ask_how_to_raise", "ask_how_to_raise", "action_give_step_advice",
                                       current_step="ask_doctor"),
            "/doctor_defensive": _turn("/doctor_defensive", "doctor_defensive", "action_give_step_advice",
                                       current_step="move_on"),
            "asked her, she agreed": _turn("asked her, she agreed", "report_progress", "action_report_progress",
                                           completed_steps=["ask_doctor"]),
            "he laughed at me": _turn("he laughed at me", "doctor_refuses", "action_give_step_advice",
                                      current_step="move_on"),
            "went well": _turn("went well", "report_progress", "action_report_progress",
                               awaiting_answer="confirm_step:ask_doctor"),
            "not till the 20th": _turn("not till the 20th", "nlu_fallback", "action_clarify_intent"),
            "nope": _turn("nope", "deny", "action_answer_yes_no"),
        }
    )  # fmt: skip
    replies = [
        {**_reply("reports_current_step_done"), "text": "asked her, she agreed"},
        {**_reply("resistance"), "text": "he laughed at me"},
        {**_reply("not_yet"), "text": "not till the 20th"},
        {**_reply("deny", "move_on"), "text": "nope"},
        {**_reply("reports_current_step_done"), "text": "went well"},
    ]
    outcomes = asyncio.run(replies_outcomes(bot, replies))
    assert outcomes[0] == Outcome("report_progress", ("action_report_progress",), ("ask_doctor",), "ask_doctor")
    assert outcomes[1] == Outcome("doctor_refuses", ("action_give_step_advice",), (), "move_on")
    assert outcomes[2].clarified and not outcomes[3].clarified
    # Each reply in a conversation of its own: the prelude, then the reply.
    assert len(bot.trackers) == 5
    figures = replies_figures(replies, outcomes)
    assert figures["replies"] == 5 and figures["right"] == 0.6 and figures["clarifying question"] == 0.2
    assert figures["per expected"]["not_yet"] == {
        "replies": 1, "right": 0, "clarifying": 1, "credited a step": 0, "asked to confirm the step": 0,
        "intents": {"nlu_fallback": 1},
    }  # fmt: skip
    # A report read but only asked about ("you've done step 1, is that it?") is not yet right.
    reports = figures["per expected"]["reports_current_step_done"]
    assert reports["right"] == reports["credited a step"] == reports["asked to confirm the step"] == 1


def test_a_reply_read_again_in_context_counts_as_the_intent_the_bot_acted_on():
    # The clarifying action reverted the unsure message and uttered it again as a report, which the rules
    # then answered: the reverted turn is not what the bot did.
    reread = [
        *_turn("did it monday", "nlu_fallback", "action_clarify_intent")[:-1],
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        *_turn("did it monday", "report_progress", "action_report_progress", completed_steps=["ask_doctor"]),
    ]
    bot = FakeBot(
        {
            "/ask_how_to_raise": _turn("/ask_how_to_raise", "ask_how_to_raise", "action_give_step_advice",
                                       current_step="ask_doctor"),
            "did it monday": reread,
        }
    )  # fmt: skip
    [outcome] = asyncio.run(replies_outcomes(bot, [{**_reply("reports_current_step_done"), "text": "did it monday"}]))
    assert outcome == Outcome("report_progress", ("action_report_progress",), ("ask_doctor",), "ask_doctor")
    assert not outcome.clarified


def test_a_request_to_practise_is_right_when_it_starts_what_it_asked_for_or_offers_the_choice():
    def request(scenario: str, temperament: str = "none") -> dict:
        return {"text": "...", "scenario": scenario, "temperament": temperament}

    def started(scenario: str, temperament: str) -> RequestOutcome:
        return RequestOutcome("start_rehearsal", scenario, temperament, offered_scenarios=False, clarified=False)

    menu = RequestOutcome("start_rehearsal", None, None, offered_scenarios=True, clarified=False)
    unsure = RequestOutcome("nlu_fallback", None, None, offered_scenarios=False, clarified=True)
    pairs = [
        (request("referral"), started("referral", "supportive")),  # right: any doctor when none was asked for
        (request("referral", "rushed"), started("referral", "supportive")),  # wrong doctor
        (request("defensive"), started("ask_opinion", "supportive")),  # wrong scenario: a false start
        (request("ask_opinion"), menu),  # asked again what the request had said
        (request("none"), menu),  # right: the choice
        (request("none"), started("ask_opinion", "supportive")),  # a guess the request did not make
        (request("none"), unsure),
    ]
    assert [request_right(item, outcome) for item, outcome in pairs] == [True, False, False, False, True, False, False]
    figures = requests_figures(*zip(*pairs, strict=True))
    assert figures["right"] == round(2 / 7, 3)
    assert figures["named a scenario: started it at once"] == 0.5
    assert figures["started a scenario not asked for"] == round(2 / 7, 3)
    assert figures["clarifying question"] == round(1 / 7, 3)
    report = {**_report(0.7, 0.2), "rehearsal requests": figures}
    assert shortfalls("d", report, {"rehearsal_requests": 0.25, "rehearsal_requests_wrong_start": 0.3}) == []
    assert shortfalls("d", report, {"rehearsal_requests": 0.5, "rehearsal_requests_wrong_start": 0.1}) == [
        "d: rehearsal_requests 0.286 (at least 0.5)",
        "d: rehearsal_requests_wrong_start 0.286 (at most 0.1)",
    ]


def test_a_prelude_that_misses_the_items_step_stops_the_measurement():
    bot = FakeBot({"/ask_how_to_raise": _turn("/ask_how_to_raise", "ask_how_to_raise", "action_clarify_intent")})
    with pytest.raises(RuntimeError, match="current_step None, not ask_doctor"):
        asyncio.run(replies_outcomes(bot, [_reply("deny")]))


def test_the_studied_replies_are_all_scoreable():
    replies = yaml.safe_load((PROJECT_ROOT / "tests" / "peoples_words" / "replies_in_context.yml").read_text())
    assert set(REPLY_PRELUDE) == set(STEP_IDS)
    assert {item["step"] for item in replies["items"]} <= set(STEP_IDS)
    assert {item["expect"] for item in replies["items"]} <= {"reports_current_step_done", "resistance", *READ_AS}


def test_every_set_folder_has_floors_and_a_readme():
    floors = yaml.safe_load((PROJECT_ROOT / "tests" / "peoples_words_floors.yml").read_text(encoding="utf-8"))
    assert {path.name for path in SETS} == set(floors)
    assert set(floors) == {"peoples_words", "peoples_words_b", "peoples_words_c", "peoples_words_d", "peoples_words_e"}
    measured = ("journey.yml", "replies_in_context.yml", "rehearsal_requests.yml")
    assert all((path / "README.md").exists() and any((path / name).exists() for name in measured) for path in SETS)

"""The role-play: setting it up (what to practise, which doctor), each line of the user answered by the
doctor and the coach, and the summary at the end. The engine is secondlook/rehearsal/; these actions
only move its state in and out of the `rehearsal_state` slot and record the outcome."""

import hashlib
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ReplyingAction
from actions.store_access import with_store
from secondlook import rehearsal
from secondlook.content import content
from secondlook.replies import button, say

SCENARIO_ENTITY = "rehearsal_scenario"
TEMPERAMENT_ENTITY = "rehearsal_temperament"
DOCTOR = "🩺 Doctor: "
COACH = "💬 Coach: "


def flow_text() -> dict[str, str]:
    return content("rehearsal_flow.yml")


# A request in words that names what to practise but not the doctor starts at once, with the doctor that
# scenario is about (the end of the role-play offers the next kind); a scenario button still asks.
DEFAULT_TEMPERAMENT = {"ask_opinion": "supportive", "referral": "supportive", "defensive": "defensive"}


def _entity_item(tracker: Tracker, name: str, allowed: tuple[str, ...]) -> dict | None:
    items = [item for item in tracker.latest_message.get("entities") or [] if item.get("entity") == name]
    return next((item for item in items if item.get("value") in allowed), None)


def _entity(tracker: Tracker, name: str, allowed: tuple[str, ...]) -> str | None:
    item = _entity_item(tracker, name, allowed)
    return item["value"] if item else None


# The NLU component that reads a typed request (pipeline/rehearsal_request.py); a button's payload comes
# with Rasa's RegexMessageHandler as the extractor instead.
REQUEST_READER = "RehearsalRequestReader"


def _said_in_words(item: dict | None) -> bool:
    """Whether the request was typed ("practise asking for a referral"), not a button pressed."""
    return bool(item and item.get("extractor") == REQUEST_READER)


def _variant(tracker: Tracker, turn: int) -> int:
    """A stable choice among the reviewed variations: differs between users and between turns."""
    return int(hashlib.sha256(tracker.sender_id.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16) + turn


def _state(tracker: Tracker) -> rehearsal.RehearsalState | None:
    return rehearsal.RehearsalState.from_dict(tracker.get_slot("rehearsal_state"))


class ActionStartRehearsal(ReplyingAction):
    """Opens the role-play with what was asked for ("practise asking for a referral with a busy doctor");
    asks what to practise (buttons) when the request does not say, and which doctor when a button chose
    the scenario."""

    def name(self) -> str:
        return "action_start_rehearsal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        scenario_item = _entity_item(tracker, SCENARIO_ENTITY, rehearsal.SCENARIOS)
        scenario = scenario_item["value"] if scenario_item else None
        temperament = _entity(tracker, TEMPERAMENT_ENTITY, rehearsal.TEMPERAMENTS)
        if scenario is None:
            chosen = {TEMPERAMENT_ENTITY: temperament} if temperament else {}  # "my gp is always rushed" is kept
            dispatcher.utter_message(
                text=flow_text()["pick_scenario"],
                buttons=[
                    button(rehearsal.scenario_title(name), "start_rehearsal", **{SCENARIO_ENTITY: name, **chosen})
                    for name in rehearsal.SCENARIOS
                ],
            )
            return [SlotSet("rehearsal_active", False)]
        if temperament is None and _said_in_words(scenario_item):
            temperament = DEFAULT_TEMPERAMENT[scenario]
        if temperament is None:
            dispatcher.utter_message(
                text=flow_text()["pick_temperament"],
                buttons=[
                    button(
                        rehearsal.temperament_title(name),
                        "start_rehearsal",
                        **{SCENARIO_ENTITY: scenario, TEMPERAMENT_ENTITY: name},
                    )
                    for name in rehearsal.TEMPERAMENTS
                ],
            )
            return [SlotSet("rehearsal_active", False)]

        state = rehearsal.start(scenario, temperament)
        dispatcher.utter_message(
            text=flow_text()["begins"].format(
                practise=rehearsal.scenario_practise(scenario),
                doctor=rehearsal.temperament_in_sentence(temperament),
            )
        )
        dispatcher.utter_message(text=DOCTOR + rehearsal.opening_line(state, _variant(tracker, 0)))
        return [
            SlotSet("rehearsal_state", state.to_dict()),
            SlotSet("line_assessment", None),
            SlotSet("rehearsal_active", True),
        ]


class ValidateRehearsalForm(FormValidationAction):
    """Each line of the user: assessed, answered by the doctor in character, coached in a sentence or two.
    The slot is emptied after each line so that the form keeps listening, until the role-play is done."""

    def name(self) -> str:
        return "validate_rehearsal_form"

    def validate_rehearsal_line(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(slot_value, str) or not slot_value.strip():
            # Not a line: the SDK also validates slots merely reset in this turn.
            return {"rehearsal_line": None}
        state = _state(tracker)
        line = slot_value
        if state is None:  # the state was lost (e.g. a restored old session): end cleanly
            return {"rehearsal_line": line, "rehearsal_state": None}
        result = rehearsal.take_turn(state, line, _variant(tracker, len(state.turns) + 1))
        dispatcher.utter_message(text=DOCTOR + result.doctor_reply)
        dispatcher.utter_message(text=COACH + result.coaching)
        assessment = list(result.state.turns[-1]) if result.state.turns else []
        return {
            "rehearsal_line": line if result.finished else None,
            "rehearsal_state": result.state.to_dict(),
            "line_assessment": assessment,
        }


class ActionAskRehearsalLine(ReplyingAction):
    """The form's prompt for the next line: the doctor has just spoken, so only a quiet cue on the first turn."""

    def name(self) -> str:
        return "action_ask_rehearsal_line"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        state = _state(tracker)
        if state is not None and not state.turns:
            dispatcher.utter_message(text=flow_text()["your_turn"])
        return []


def _what_next(state: rehearsal.RehearsalState | None) -> list[dict]:
    """The buttons after a role-play: the same talk with the next kind of doctor (or again, when nothing
    was practised), another scenario, or back to the journey."""
    words = flow_text()["buttons"]
    if state is not None and state.turns:
        doctor = rehearsal.next_temperament(state.temperament)
        again = button(
            words["again_with"].format(doctor=rehearsal.temperament_in_sentence(doctor)),
            "start_rehearsal",
            **{SCENARIO_ENTITY: state.scenario, TEMPERAMENT_ENTITY: doctor},
        )
        options = [again, button(words["other_scenario"], "start_rehearsal")]
    else:
        options = [button(words["again"], "start_rehearsal")]
    return [*options, button(say("buttons.next_step_for_me"), "next_step")]


class ActionEndRehearsal(ReplyingAction):
    """The end of a role-play, finished or stopped: the summary, the outcome recorded, the flow closed."""

    repeats_allowed = True  # a report on this role-play, whatever an earlier one's said

    def name(self) -> str:
        return "action_end_rehearsal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        state = _state(tracker)
        if state is None or not state.turns:
            dispatcher.utter_message(text=flow_text()["stopped"], buttons=_what_next(state))
        else:
            *messages, offer = rehearsal.summary(state)
            for message in messages:
                dispatcher.utter_message(text=message)
            dispatcher.utter_message(text=offer, buttons=_what_next(state))
            finished = len(state.turns) >= rehearsal.MAX_TURNS or tracker.get_slot("requested_slot") is None
            sender = tracker.sender_id
            with_store(
                None,
                lambda store: store.record_rehearsal(
                    sender, state.scenario, state.temperament, len(state.turns), finished
                ),
                None,
            )
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("rehearsal_active", False),
            SlotSet("rehearsal_state", None),
            SlotSet("rehearsal_line", None),
        ]

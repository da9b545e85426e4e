"""The emergency reply: acknowledge, state the limit, give the locale's numbers, stop whatever was
running (role-play, forms), and log the event for review without the message text.

The kind comes from the safety screens (the `emergency_kind` entity): a medical emergency, self-harm,
a check-in (the semantic screen heard something passive or was unsure: a direct question about
suicide, the crisis line, a way back), or a worried relative (the crisis line's guidance for helping
someone else). A check-in's answer is handled by ActionAnswerCheckIn: "yes" gets the self-harm reply,
"no, I'm safe" a warm way back.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.store_access import with_store
from secondlook.locale import Locale, crisis_buttons, current_locale

KIND_ENTITY = "emergency_kind"
MEDICAL = "medical_emergency"
SELF_HARM = "self_harm"
CHECK_IN = "check_in"
OTHER_PERSON = "other_person"
CHECK_IN_SLOT = "crisis_check_in"


def emergency_kind(tracker: Tracker) -> tuple[str | None, str | None]:
    """(kind, rule) from the safety screen's entity; (None, None) when only the classifier said emergency."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == KIND_ENTITY:
            return entity.get("value"), entity.get("rule")
    return None, None


def requested_locale(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("metadata") or {}).get("locale")


def _reply(dispatcher: CollectingDispatcher, locale: Locale, kind: str | None) -> None:
    if kind == SELF_HARM:
        dispatcher.utter_message(text=locale.self_harm_reply)
    elif kind == MEDICAL:
        dispatcher.utter_message(text=locale.medical_reply)
    elif kind == CHECK_IN:
        dispatcher.utter_message(text=locale.check_in_reply, buttons=crisis_buttons("check_in_buttons"))
    elif kind == OTHER_PERSON:
        dispatcher.utter_message(text=locale.other_person_reply, buttons=crisis_buttons("way_back_buttons"))
    else:  # the classifier's net caught it, the patterns did not: cover both
        dispatcher.utter_message(text=locale.medical_reply)
        dispatcher.utter_message(text=locale.self_harm_reply)


def _record(tracker: Tracker, kind: str, source: str, rule: str | None) -> None:
    sender = tracker.sender_id
    with_store(None, lambda store: store.record_safety_event(sender, kind, source, rule), None)


class ActionHandleEmergency(Action):
    def name(self) -> str:
        return "action_handle_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        locale = current_locale(requested_locale(tracker))
        kind, rule = emergency_kind(tracker)
        _reply(dispatcher, locale, kind)
        _record(tracker, kind or "unclear", "screen" if kind else "classifier", rule)

        # Always close any loop (role-play, form): harmless when none runs, and the rules rely on it.
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("rehearsal_active", False),
            SlotSet("line_assessment", None),
            SlotSet(CHECK_IN_SLOT, kind == CHECK_IN),
        ]


class ActionAnswerCheckIn(Action):
    """The answer to a crisis reply: "yes" (to a check-in: thoughts of suicide) gets the self-harm reply;
    "no, I'm safe" a warm way back to the conversation."""

    def name(self) -> str:
        return "action_answer_check_in"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        locale = current_locale(requested_locale(tracker))
        said_yes = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        if said_yes:
            dispatcher.utter_message(text=locale.self_harm_reply)
            if tracker.get_slot(CHECK_IN_SLOT):
                _record(tracker, SELF_HARM, "check_in", "check_in_yes")
        else:
            dispatcher.utter_message(text=locale.all_clear_reply, buttons=crisis_buttons("way_back_buttons"))
        return [SlotSet(CHECK_IN_SLOT, False)]

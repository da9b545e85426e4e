"""The emergency reply: acknowledge, state the limit, give the locale's numbers, stop whatever was
running (role-play, forms), and log the event for review without the message text."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.locale import current_locale
from actions.store_access import with_store

KIND_ENTITY = "emergency_kind"
MEDICAL = "medical_emergency"
SELF_HARM = "self_harm"


def emergency_kind(tracker: Tracker) -> tuple[str | None, str | None]:
    """(kind, rule) from the safety screen's entity; (None, None) when only the classifier said emergency."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == KIND_ENTITY:
            return entity.get("value"), entity.get("rule")
    return None, None


def requested_locale(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("metadata") or {}).get("locale")


class ActionHandleEmergency(Action):
    def name(self) -> str:
        return "action_handle_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        locale = current_locale(requested_locale(tracker))
        kind, rule = emergency_kind(tracker)
        if kind == SELF_HARM:
            dispatcher.utter_message(text=locale.self_harm_reply)
        elif kind == MEDICAL:
            dispatcher.utter_message(text=locale.medical_reply)
        else:  # the classifier's net caught it, the patterns did not: cover both
            dispatcher.utter_message(text=locale.medical_reply)
            dispatcher.utter_message(text=locale.self_harm_reply)
        source = "screen" if kind else "classifier"
        sender = tracker.sender_id
        with_store(None, lambda store: store.record_safety_event(sender, kind or "unclear", source, rule), None)

        # Always close any loop (role-play, form): harmless when none runs, and the rules rely on it.
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("rehearsal_active", False),
            SlotSet("line_assessment", None),
        ]

"""Session start: the one-time disclaimer, and the user's journey progress restored from the store."""

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin_actions import reminder_events
from actions.store_access import with_store
from secondlook.journey import load_journey
from secondlook.locale import current_locale
from secondlook.replies import progress_payload


class ActionSessionStart(Action):
    """Starts every conversation (new session, or after /restart) with the disclaimer and restores only
    the progress slots: no other slot, and nothing about the user's health, is carried over."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        journey = load_journey()
        sender = tracker.sender_id
        completed, current = with_store(
            None, lambda store: (store.completed_steps(sender), store.current_step(sender)), ([], None)
        )
        events: list = [SessionStarted()]
        events.append(SlotSet("completed_steps", journey.in_order(completed)))
        if journey.has_step(current):
            events.append(SlotSet("current_step", current))
        dispatcher.utter_message(text=current_locale().disclaimer)
        dispatcher.utter_message(json_message=progress_payload(journey, journey.in_order(completed), current))
        # The check-ins still pending, registered again in this session (checkin_actions.reminder_events).
        check_ins = with_store(None, lambda store: store.reminders(sender), [])
        events.extend(reminder_events(check_ins, datetime.now(timezone.utc)))
        events.append(ActionExecuted("action_listen"))
        return events

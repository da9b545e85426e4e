"""Session start: the one-time disclaimer, and the user's journey progress restored from the store; the
greeting: the welcome once per conversation, and a short "hello again" that offers the next thing after it."""

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin_actions import reminder_events
from actions.conversation import ReplyingAction, this_session
from actions.store_access import with_store
from secondlook.journey import load_journey
from secondlook.locale import current_locale
from secondlook.replies import button, progress_payload, say


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


class ActionGreet(ReplyingAction):
    """ "Hi": the welcome at the start of a conversation; once the user has said anything in it, a short
    hello that offers the next thing instead of the welcome again."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        said_before = [event for event in this_session(tracker) if event.get("event") == "user"][:-1]
        if not said_before:
            buttons = [
                button(say("buttons.doubt_diagnosis"), "doubt_diagnosis"),
                button(say("buttons.worth_it"), "ask_second_opinion_worth"),
                button(say("buttons.where_in_journey"), "ask_progress"),
                button(say("buttons.help"), "help"),
            ]
            dispatcher.utter_message(text=say("greet.welcome"), buttons=buttons)
            return []
        journey = load_journey()
        current = tracker.get_slot("current_step")
        completed = tracker.get_slot("completed_steps") or []
        if journey.has_step(current) and current not in completed:
            step = journey.step(current)
            text = say("greet.again_on_step", number=step.number, title=step.title)
            buttons = [
                button(say("buttons.step_done"), "report_progress", journey_step=step.id),
                button(say("buttons.next_step_for_me"), "next_step"),
                button(say("buttons.show_progress"), "ask_progress"),
            ]
        else:
            text = say("greet.again")
            buttons = [
                button(say("buttons.doubt_diagnosis"), "doubt_diagnosis"),
                button(say("buttons.next_step_for_me"), "next_step"),
                button(say("buttons.help"), "help"),
            ]
        dispatcher.utter_message(text=text, buttons=buttons)
        return []

"""The check-in after the appointment: offered when the user names a date, kept in the progress store,
scheduled as a Rasa reminder (secondlook/checkins.py), asked when it fires, and cancelled on request."""

import uuid
from datetime import date, datetime, timezone

from rasa_sdk import Tracker
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ReplyingAction
from actions.preparation_actions import DomainDict, entity_values, kit_buttons, texts
from actions.store_access import with_store
from secondlook.appointments import checkin_time, date_text, parse_appointment_date
from secondlook.checkins import CHECKIN_INTENT, EXTERNAL_PREFIX, reminder_times, take_due_checkin
from secondlook.replies import button, say


def reminder_event(name: str, due_at: datetime) -> ReminderScheduled:
    return ReminderScheduled(CHECKIN_INTENT, trigger_date_time=due_at, name=name, kill_on_user_message=False)


def reminder_events(check_ins: list[dict], now: datetime) -> list[ReminderScheduled]:
    """The user's stored check-ins as reminders again, for a new session (secondlook.checkins.reminder_times)."""
    return [reminder_event(name, due) for name, due in reminder_times(check_ins, now)]


class ActionOfferCheckin(ReplyingAction):
    """The user named an appointment date: offer to ask afterwards how it went."""

    def name(self) -> str:
        return "action_offer_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        today = datetime.now().astimezone().date()
        candidates = [*entity_values(tracker, "DATE"), tracker.latest_message.get("text") or ""]
        day = next((found for text in candidates if (found := parse_appointment_date(text, today))), None)
        words = texts()["checkin"]
        if day is None:
            dispatcher.utter_message(text=words["no_date"])
            return [SlotSet("appointment_date", None)]
        buttons = [button(say("buttons.check_in_yes"), "affirm"), button(say("buttons.check_in_no"), "deny")]
        dispatcher.utter_message(text=words["offer"].format(day=date_text(day)), buttons=buttons)
        return [SlotSet("appointment_date", day.isoformat())]


class ActionScheduleCheckin(ReplyingAction):
    """Stores the check-in and schedules it as a Rasa reminder (replacing an earlier one)."""

    def name(self) -> str:
        return "action_schedule_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        words = texts()["checkin"]
        raw = tracker.get_slot("appointment_date")
        if not raw:
            dispatcher.utter_message(text=words["no_date"])
            return []
        appointment = date.fromisoformat(raw)
        due = checkin_time(appointment, datetime.now(timezone.utc))
        name = f"checkin-{uuid.uuid4().hex}"
        sender, channel = tracker.sender_id, tracker.get_latest_input_channel()
        replaced = with_store(
            dispatcher, lambda store: store.schedule_reminder(sender, name, channel, appointment, due), None
        )
        if replaced is None:
            return []
        checkin_day = date_text(due.astimezone().date())
        buttons = [
            button(say("buttons.cancel_check_in"), "cancel_reminder"),
            button(say("buttons.prepare_questions"), "prepare_questions"),
        ]
        dispatcher.utter_message(text=words["scheduled"].format(checkin_day=checkin_day), buttons=buttons)
        return [*(ReminderCancelled(name=old) for old in replaced), reminder_event(name, due)]


class ActionCancelCheckin(ReplyingAction):
    def name(self) -> str:
        return "action_cancel_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        names = with_store(dispatcher, lambda store: store.cancel_reminders(tracker.sender_id), None)
        if names is None:
            return []
        words = texts()["checkin"]
        dispatcher.utter_message(text=words["cancelled"] if names else words["none"])
        # Every check-in reminder of this conversation, also one the store did not know about.
        return [ReminderCancelled(intent_name=CHECKIN_INTENT)]


class ActionAppointmentCheckin(ReplyingAction):
    """Runs when the check-in reminder fires: asks how the appointment went, once."""

    def name(self) -> str:
        return "action_appointment_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        sender = tracker.sender_id
        if not (tracker.latest_message.get("text") or "").startswith(EXTERNAL_PREFIX):
            # Typed, not sent by a reminder (the classifier should never pick this intent).
            dispatcher.utter_message(text=say("journey.what_next"), buttons=kit_buttons(add=False))
            return []
        taken = with_store(None, lambda store: take_due_checkin(store, sender), None)
        if taken is None:
            return []  # cancelled, erased, or already sent by another server
        buttons = [
            button(say("buttons.opinion_agreed"), "opinions_agree"),
            button(say("buttons.opinion_differed"), "opinions_differ"),
            button(say("buttons.appointment_moved"), "mention_appointment"),
        ]
        day = date_text(date.fromisoformat(taken["appointment_on"]))
        dispatcher.utter_message(text=texts()["checkin"]["question"].format(day=day), buttons=buttons)
        return [ReminderCancelled(name=taken["name"])]

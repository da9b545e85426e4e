"""The preparation kit (issue 11): the question list, the user's own questions, letters, the summary
to take along, the check-in after the appointment (a Rasa reminder kept in the progress store), and the
one question that confirms a situation the user did not state plainly (issue 19).

Thin actions over plain modules: questions.py (the bank and the situation), facts.py (what was said
plainly), letters.py, summary.py (documents and signed links), appointments.py (dates).
"""

import uuid
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.appointments import checkin_time, date_text, parse_appointment_date
from actions.facts import fact_of, fact_question, fact_texts, question_slot_value, said_plainly
from actions.letters import LETTER_KINDS, fill_letter, kind_from_text, letter_titles
from actions.locale import current_locale
from actions.paths import CONTENT_DIR
from actions.questions import (
    SITUATION_KEYS,
    QuestionBank,
    infer_situation,
    load_question_bank,
    missing_key,
    question_list_text,
)
from actions.replies import button, custom_payload
from actions.store_access import with_store
from actions.summary import SUMMARY_PATH, link_ttl_seconds, sign_token, summary_for_key, to_text

DomainDict = dict[str, Any]
CHECKIN_INTENT = "EXTERNAL_appointment_checkin"
EXTERNAL_PREFIX = "EXTERNAL: "
# Reminders re-registered at a session start fire no sooner than this (see reminder_events).
RESCHEDULE_MARGIN = timedelta(seconds=3)
MIN_QUESTIONS_IN_NOTE = 3


@cache
def texts() -> dict:
    return yaml.safe_load((CONTENT_DIR / "preparation.yml").read_text(encoding="utf-8"))


def _user_events(tracker: Tracker) -> list[dict]:
    return [event for event in tracker.events if event.get("event") == "user"]


def _entity_values(tracker: Tracker, name: str) -> list[str]:
    return [
        str(entity.get("value"))
        for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == name and entity.get("value") is not None
    ]


def _locale_code(tracker: Tracker) -> str:
    requested = (tracker.latest_message.get("metadata") or {}).get("locale")
    return current_locale(requested if isinstance(requested, str) else None).code


def current_situation(bank: QuestionBank, tracker: Tracker) -> dict[str, str]:
    """Answers just given (button payloads) over stored answers over what the conversation tells."""
    answers = {}
    for key in SITUATION_KEYS:
        values = [value for value in _entity_values(tracker, f"prep_{key}") if bank.is_valid(key, value)]
        if values:
            answers[key] = values[-1]
    stored = with_store(None, lambda store: store.preparation(tracker.sender_id), {})
    return {**infer_situation(bank, _user_events(tracker)), **stored, **answers}


def _save_situation(tracker: Tracker, situation: dict[str, str]) -> None:
    with_store(None, lambda store: store.save_preparation(tracker.sender_id, situation), None)


def _kit_buttons(*, add: bool = True, letters: bool = True, summary: bool = True) -> list[dict]:
    buttons = []
    if add:
        buttons.append(button("Add my own question", "add_question"))
    if letters:
        buttons.append(button("Letters", "request_letter"))
    if summary:
        buttons.append(button("Summary to take along", "request_summary"))
    return buttons


class ActionPrepareQuestions(Action):
    """Asks what it doesn't know yet about the situation (one thing at a time, with buttons), then
    sends the fitting questions from the bank plus the user's own."""

    def name(self) -> str:
        return "action_prepare_questions"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        bank = load_question_bank()
        situation = current_situation(bank, tracker)
        _save_situation(tracker, situation)
        key = missing_key(situation)
        if key is not None:
            buttons = [
                button(option.label, "prepare_questions", **{f"prep_{key}": option.value})
                for option in bank.options[key]
            ]
            dispatcher.utter_message(text=bank.asks[key], buttons=buttons)
            return []
        own = with_store(None, lambda store: store.own_questions(tracker.sender_id), [])
        words = texts()["questions"]
        heading = f"{words['intro']} ({words['based_on']}: {bank.describe(situation)}):"
        body = question_list_text(bank, situation, own)
        dispatcher.utter_message(text=f"{heading}\n\n{body}\n\n{words['outro']}", buttons=_kit_buttons())
        return []


class ActionAskOwnQuestion(Action):
    def name(self) -> str:
        return "action_ask_own_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(text=texts()["questions"]["ask_own"])
        return []


class ActionSaveQuestion(Action):
    """Keeps the user's own question (a note with the topic "question"; at most 500 characters)."""

    def name(self) -> str:
        return "action_save_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        question = " ".join((tracker.get_slot("own_question") or "").split())
        words = texts()["questions"]
        if len(question) < 3 or question.startswith(("/", EXTERNAL_PREFIX)):
            dispatcher.utter_message(text=words["empty"], buttons=_kit_buttons(letters=False, summary=False))
            return [SlotSet("own_question", None)]
        sender = tracker.sender_id

        def keep(store) -> int:
            store.add_note(sender, "question", question)
            return len(store.own_questions(sender))

        count = with_store(dispatcher, keep, None)
        if count is not None:
            buttons = [
                button("Add another", "add_question"),
                button("Show my question list", "prepare_questions"),
                button("Summary to take along", "request_summary"),
            ]
            dispatcher.utter_message(text=words["saved"].format(question=question, count=count), buttons=buttons)
        return [SlotSet("own_question", None)]


class ActionWriteLetter(Action):
    """One of the three letters, filled in from the conversation; asks which one when unclear."""

    def name(self) -> str:
        return "action_write_letter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        kinds = [kind for kind in _entity_values(tracker, "letter_kind") if kind in LETTER_KINDS]
        kind = kinds[-1] if kinds else kind_from_text(tracker.latest_message.get("text") or "")
        titles = letter_titles()
        if kind is None:
            buttons = [button(titles[each], "request_letter", letter_kind=each) for each in LETTER_KINDS]
            dispatcher.utter_message(text=texts()["letters"]["which"], buttons=buttons)
            return []
        bank = load_question_bank()
        situation = current_situation(bank, tracker)
        sender = tracker.sender_id
        own = with_store(None, lambda store: store.own_questions(sender), [])
        questions = own + [text for _, group in bank.for_situation(situation) for text in group]
        questions = questions[: max(len(own), MIN_QUESTIONS_IN_NOTE)]
        check_ins = with_store(None, lambda store: store.reminders(sender), [])
        appointment = date_text(date.fromisoformat(check_ins[0]["appointment_on"])) if check_ins else None
        letter = fill_letter(kind, bank, situation, questions, _locale_code(tracker), appointment)
        dispatcher.utter_message(text=letter.intro)
        others = [button(titles[each], "request_letter", letter_kind=each) for each in LETTER_KINDS if each != kind]
        dispatcher.utter_message(text=letter.text, buttons=[*others, *_kit_buttons(add=False, letters=False)])
        return []


class ActionSendSummary(Action):
    """The web chat gets download links (PDF and Markdown); other channels get the summary as text."""

    def name(self) -> str:
        return "action_send_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        bank = load_question_bank()
        _save_situation(tracker, current_situation(bank, tracker))
        sender = tracker.sender_id
        locale_code = _locale_code(tracker)
        today = datetime.now().astimezone().date()

        def build(store) -> tuple[str, list]:
            key = store.user_key(sender)
            return key, summary_for_key(store, key, locale_code, today)

        built = with_store(dispatcher, build, None)
        if built is None:
            return []
        key, blocks = built
        if tracker.get_latest_input_channel() == "webchat":
            token = sign_token(key)
            links = [
                {"format": "pdf", "label": "Download PDF", "path": f"{SUMMARY_PATH}/{token}.pdf"},
                {"format": "md", "label": "Download Markdown", "path": f"{SUMMARY_PATH}/{token}.md"},
            ]
            dispatcher.utter_message(text=texts()["summary"]["web"])
            dispatcher.utter_message(
                json_message=custom_payload("summary_download", links=links, expires_in=link_ttl_seconds())
            )
        else:
            dispatcher.utter_message(text=texts()["summary"]["text_intro"])
            dispatcher.utter_message(text=to_text(blocks))
        return []


class ActionConfirmSituation(Action):
    """After advice about a second opinion that differs or agrees. Said plainly, the fact stands as the
    user said it (infer_situation reads it from the conversation); said as a what-if, a question, a
    negation or someone else's story, one yes/no question decides whether it is theirs
    (action_answer_yes_no notes it on "yes"). Nothing is asked when the store already holds it."""

    def name(self) -> str:
        return "action_confirm_situation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        fact = fact_of(tracker.latest_message)
        if fact is None or said_plainly(tracker.latest_message):
            return []
        key, value = fact
        stored = with_store(None, lambda store: store.preparation(tracker.sender_id), {})
        if stored.get(key) == value:
            return []
        words = fact_texts()["buttons"]
        buttons = [button(words["yes"], "affirm"), button(words["no"], "deny")]
        dispatcher.utter_message(text=fact_question(key, value), buttons=buttons)
        return [SlotSet("awaiting_answer", question_slot_value(key, value))]


def note_confirmed_fact(
    dispatcher: CollectingDispatcher, tracker: Tracker, key: str, value: str, said_yes: bool
) -> None:
    """The answer to action_confirm_situation's question: "yes" adds the fact to the stored situation."""
    words = fact_texts()
    if not said_yes:
        dispatcher.utter_message(text=words["not_noted"])
        return
    sender = tracker.sender_id

    def note(store) -> bool:
        store.save_preparation(sender, {**store.preparation(sender), key: value})
        return True

    if with_store(dispatcher, note, False):
        fact = load_question_bank().describe({key: value})
        buttons = [button("Prepare my questions", "prepare_questions"), button("Letters", "request_letter")]
        dispatcher.utter_message(text=words["noted"].format(fact=fact), buttons=buttons)


# --- the check-in after the appointment --------------------------------------------------------------


def reminder_event(name: str, due_at: datetime) -> ReminderScheduled:
    return ReminderScheduled(CHECKIN_INTENT, trigger_date_time=due_at, name=name, kill_on_user_message=False)


def reminder_events(check_ins: list[dict], now: datetime) -> list[ReminderScheduled]:
    """The user's stored check-ins as reminders again, for a new session.

    Rasa drops a reminder whose ReminderScheduled is not in the current session (it treats it as
    outdated), so every session start re-registers the pending ones. A check-in already due (the
    server was down, or this session start runs inside the firing reminder) is set a few seconds
    ahead: it keeps the firing one valid, and the check-in action cancels the duplicate."""
    return [
        reminder_event(row["name"], max(datetime.fromisoformat(row["due_at"]), now + RESCHEDULE_MARGIN))
        for row in check_ins
    ]


class ActionOfferCheckin(Action):
    """The user named an appointment date: offer to ask afterwards how it went."""

    def name(self) -> str:
        return "action_offer_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        today = datetime.now().astimezone().date()
        candidates = [*_entity_values(tracker, "DATE"), tracker.latest_message.get("text") or ""]
        day = next((found for text in candidates if (found := parse_appointment_date(text, today))), None)
        words = texts()["checkin"]
        if day is None:
            dispatcher.utter_message(text=words["no_date"])
            return [SlotSet("appointment_date", None)]
        buttons = [button("Yes, check in with me", "affirm"), button("No, thanks", "deny")]
        dispatcher.utter_message(text=words["offer"].format(day=date_text(day)), buttons=buttons)
        return [SlotSet("appointment_date", day.isoformat())]


class ActionScheduleCheckin(Action):
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
            button("Cancel the check-in", "cancel_reminder"),
            button("Prepare my questions", "prepare_questions"),
        ]
        dispatcher.utter_message(text=words["scheduled"].format(checkin_day=checkin_day), buttons=buttons)
        return [*(ReminderCancelled(name=old) for old in replaced), reminder_event(name, due)]


class ActionCancelCheckin(Action):
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


def _take_due_checkin(store, sender: str) -> dict | None:
    """Removes and returns the user's check-in that is due (None if there is none left to send)."""
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    for row in store.reminders(sender):
        if datetime.fromisoformat(row["due_at"]) <= soon and store.take_reminder(sender, row["name"]):
            return row
    return None


class ActionAppointmentCheckin(Action):
    """Runs when the check-in reminder fires: asks how the appointment went, once."""

    def name(self) -> str:
        return "action_appointment_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        sender = tracker.sender_id
        if not (tracker.latest_message.get("text") or "").startswith(EXTERNAL_PREFIX):
            # Typed, not sent by a reminder (the classifier should never pick this intent).
            dispatcher.utter_message(text="Okay. What would you like to do next?", buttons=_kit_buttons(add=False))
            return []
        taken = with_store(None, lambda store: _take_due_checkin(store, sender), None)
        if taken is None:
            return []  # cancelled, erased, or already sent by another server
        buttons = [
            button("It agreed with the first", "opinions_agree"),
            button("It was different", "opinions_differ"),
            button("It was moved", "mention_appointment"),
        ]
        day = date_text(date.fromisoformat(taken["appointment_on"]))
        dispatcher.utter_message(text=texts()["checkin"]["question"].format(day=day), buttons=buttons)
        return [ReminderCancelled(name=taken["name"])]

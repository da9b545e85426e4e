"""The preparation kit: the question list, the user's own questions, letters, the summary to take along,
and the one question that confirms a situation the user did not state plainly (secondlook/facts.py). The
check-in after the appointment has its own module (checkin_actions.py).

Thin actions over plain modules of secondlook/: questions.py (the bank and the situation), facts.py (what
was said plainly), letters.py, summary.py (documents and signed links), appointments.py (dates).
"""

from datetime import date, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ReplyingAction
from actions.store_access import with_store
from secondlook.appointments import date_text
from secondlook.checkins import EXTERNAL_PREFIX
from secondlook.content import content
from secondlook.facts import fact_of, fact_question, fact_texts, question_slot_value, said_plainly
from secondlook.letters import LETTER_KINDS, fill_letter, kind_from_text, letter_titles
from secondlook.locale import current_locale
from secondlook.questions import (
    SITUATION_KEYS,
    QuestionBank,
    infer_situation,
    load_question_bank,
    missing_key,
    question_list_text,
)
from secondlook.replies import button, custom_payload, say
from secondlook.summary import SUMMARY_PATH, link_ttl_seconds, sign_token, summary_for_key, to_text

DomainDict = dict[str, Any]
MIN_QUESTIONS_IN_NOTE = 3


def texts() -> dict:
    return content("preparation.yml")


def _user_events(tracker: Tracker) -> list[dict]:
    return [event for event in tracker.events if event.get("event") == "user"]


def entity_values(tracker: Tracker, name: str) -> list[str]:
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
        values = [value for value in entity_values(tracker, f"prep_{key}") if bank.is_valid(key, value)]
        if values:
            answers[key] = values[-1]
    stored = with_store(None, lambda store: store.preparation(tracker.sender_id), {})
    return {**infer_situation(bank, _user_events(tracker)), **stored, **answers}


def _save_situation(tracker: Tracker, situation: dict[str, str]) -> None:
    with_store(None, lambda store: store.save_preparation(tracker.sender_id, situation), None)


def kit_buttons(*, add: bool = True, letters: bool = True, summary: bool = True) -> list[dict]:
    buttons = []
    if add:
        buttons.append(button(say("buttons.add_question"), "add_question"))
    if letters:
        buttons.append(button(say("buttons.letters"), "request_letter"))
    if summary:
        buttons.append(button(say("buttons.summary"), "request_summary"))
    return buttons


class ActionPrepareQuestions(ReplyingAction):
    """Asks what it doesn't know yet about the situation (one thing at a time, with buttons), then
    sends the fitting questions from the bank plus the user's own."""

    repeats_allowed = True  # a document: the question list, whole every time

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
        dispatcher.utter_message(text=f"{heading}\n\n{body}\n\n{words['outro']}", buttons=kit_buttons())
        return []


class ActionAskOwnQuestion(ReplyingAction):
    def name(self) -> str:
        return "action_ask_own_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(text=texts()["questions"]["ask_own"])
        return []


class ActionSaveQuestion(ReplyingAction):
    """Keeps the user's own question (a note with the topic "question"; at most 500 characters)."""

    def name(self) -> str:
        return "action_save_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        question = " ".join((tracker.get_slot("own_question") or "").split())
        words = texts()["questions"]
        if len(question) < 3 or question.startswith(("/", EXTERNAL_PREFIX)):
            dispatcher.utter_message(text=words["empty"], buttons=kit_buttons(letters=False, summary=False))
            return [SlotSet("own_question", None)]
        sender = tracker.sender_id

        def keep(store) -> int:
            store.add_note(sender, "question", question)
            return len(store.own_questions(sender))

        count = with_store(dispatcher, keep, None)
        if count is not None:
            buttons = [
                button(say("buttons.add_another"), "add_question"),
                button(say("buttons.question_list"), "prepare_questions"),
                button(say("buttons.summary"), "request_summary"),
            ]
            dispatcher.utter_message(text=words["saved"].format(question=question, count=count), buttons=buttons)
        return [SlotSet("own_question", None)]


class ActionWriteLetter(ReplyingAction):
    """One of the three letters, filled in from the conversation; asks which one when unclear."""

    repeats_allowed = True  # a document: a letter never loses a sentence

    def name(self) -> str:
        return "action_write_letter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        kinds = [kind for kind in entity_values(tracker, "letter_kind") if kind in LETTER_KINDS]
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
        dispatcher.utter_message(text=letter.text, buttons=[*others, *kit_buttons(add=False, letters=False)])
        return []


class ActionSendSummary(ReplyingAction):
    """The web chat gets download links (PDF and Markdown); other channels get the summary as text."""

    repeats_allowed = True  # a document: the summary, whole every time

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
                {"format": "pdf", "label": say("buttons.download_pdf"), "path": f"{SUMMARY_PATH}/{token}.pdf"},
                {"format": "md", "label": say("buttons.download_markdown"), "path": f"{SUMMARY_PATH}/{token}.md"},
            ]
            dispatcher.utter_message(text=texts()["summary"]["web"])
            dispatcher.utter_message(
                json_message=custom_payload("summary_download", links=links, expires_in=link_ttl_seconds())
            )
        else:
            dispatcher.utter_message(text=texts()["summary"]["text_intro"])
            dispatcher.utter_message(text=to_text(blocks))
        return []


class ActionConfirmSituation(ReplyingAction):
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
        buttons = [
            button(say("buttons.prepare_questions"), "prepare_questions"),
            button(say("buttons.letters"), "request_letter"),
        ]
        dispatcher.utter_message(text=words["noted"].format(fact=fact), buttons=buttons)

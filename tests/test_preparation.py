"""The preparation kit without servers: the question list and how it adapts, the user's own
questions, the letters, the appointment dates, the summary documents and their links, and the
check-in actions with the progress store."""

import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet

from actions.checkin_actions import (
    ActionAppointmentCheckin,
    ActionCancelCheckin,
    ActionOfferCheckin,
    ActionScheduleCheckin,
)
from actions.preparation_actions import (
    ActionPrepareQuestions,
    ActionSaveQuestion,
    ActionSendSummary,
    ActionWriteLetter,
)
from actions.privacy_actions import ActionShowMyData
from actions.session_actions import ActionSessionStart
from channels.preparation import render_summary
from secondlook.appointments import checkin_time, parse_appointment_date
from secondlook.checkins import CHECKIN_INTENT
from secondlook.letters import fill_letter
from secondlook.questions import infer_situation, load_question_bank
from secondlook.summary import sign_token, summary_for_key, to_markdown, to_pdf, verify_token
from tests.conftest import customs, make_tracker, payloads, texts

BANK = load_question_bank()
THURSDAY = date(2026, 11, 26)


def user_event(text: str, intent: str = "doubt_diagnosis", entities: list | None = None) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}


def all_questions(situation: dict) -> list[str]:
    return [text for _, group in BANK.for_situation(situation) for text in group]


# --- the question list ---------------------------------------------------------------------------


def test_the_question_list_adapts_to_the_situation():
    oncology_surgery = all_questions({"specialty": "oncology", "treatment": "surgery", "opinion": "not_yet"})
    cardiology_nothing = all_questions({"specialty": "cardiology", "treatment": "none", "opinion": "not_yet"})
    differing = all_questions({"specialty": "other", "treatment": "none", "opinion": "differs"})

    assert any("pathologist" in text for text in oncology_surgery)
    assert any("operation" in text for text in oncology_surgery)
    assert not any("pathologist" in text or "operation" in text for text in cardiology_nothing)
    assert any("heart tests" in text for text in cardiology_nothing)
    assert any("differ" in text for text in differing)
    assert not any("differ" in text for text in oncology_surgery)
    common = "Is there anything else this could be that is worth ruling out?"
    assert all(common in questions for questions in (oncology_surgery, cardiology_nothing, differing))


def test_the_situation_is_read_from_what_the_user_said():
    events = [
        user_event("the oncologist wants to operate next month"),
        user_event("the second opinion disagreed", intent="opinions_differ"),
    ]
    assert infer_situation(BANK, events) == {"specialty": "oncology", "treatment": "surgery", "opinion": "differs"}
    heart = [user_event("my heart doctor put me on tablets", entities=[{"entity": "specialty", "value": "cardiology"}])]
    assert infer_situation(BANK, heart) == {"specialty": "cardiology", "treatment": "treatment"}
    assert infer_situation(BANK, [user_event("I doubt my diagnosis")]) == {}
    surgery = [user_event("what should I ask the oncologist about the surgery they proposed?")]
    assert infer_situation(BANK, surgery) == {"specialty": "oncology", "treatment": "surgery"}
    # The NLU tags both words as specialties ("surgery" -> surgery); the typed word is a treatment cue.
    tagged = [
        user_event(
            "what should I ask the oncologist about the surgery they proposed?",
            entities=[
                {"entity": "specialty", "value": "oncology", "text": "oncologist"},
                {"entity": "specialty", "value": "surgery", "text": "surgery"},
            ],
        )
    ]
    assert infer_situation(BANK, tagged) == {"specialty": "oncology", "treatment": "surgery"}


async def test_unknown_parts_of_the_situation_are_asked_one_at_a_time(dispatcher, domain, store):
    tracker = make_tracker("prepare_questions", text="what should I ask the specialist?")
    await ActionPrepareQuestions().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [BANK.asks["specialty"]]
    assert '/prepare_questions{"prep_specialty":"oncology"}' in payloads(dispatcher)

    dispatcher.messages.clear()
    answer = make_tracker("prepare_questions", entities=[{"entity": "prep_specialty", "value": "oncology"}])
    await ActionPrepareQuestions().run(dispatcher, answer, domain)
    assert texts(dispatcher) == [BANK.asks["treatment"]]
    assert store.preparation("user-1") == {"specialty": "oncology"}


async def test_the_list_comes_when_the_situation_is_known_with_the_users_own_questions(dispatcher, domain, store):
    store.save_preparation("user-1", {"specialty": "oncology", "treatment": "surgery"})
    store.add_note("user-1", "question", "Can I bring my partner along?")
    answer = make_tracker("prepare_questions", entities=[{"entity": "prep_opinion", "value": "not_yet"}])
    await ActionPrepareQuestions().run(dispatcher, answer, domain)
    [message] = texts(dispatcher)
    assert "oncology; surgery or a procedure was proposed; no second opinion yet" in message
    assert "Would you want a second pathologist" in message
    assert "Your own questions:" in message and "Can I bring my partner along?" in message
    assert {"/add_question", "/request_letter", "/request_summary"} <= set(payloads(dispatcher))


async def test_an_own_question_is_kept_and_the_form_slot_cleared(dispatcher, domain, store):
    tracker = make_tracker(slots={"own_question": "  Will I need   more scans? "})
    events = await ActionSaveQuestion().run(dispatcher, tracker, domain)
    assert events == [SlotSet("own_question", None)]
    assert store.own_questions("user-1") == ["Will I need more scans?"]
    assert "Will I need more scans?" in texts(dispatcher)[0]
    exported = store.export("user-1")
    assert exported["notes"][0]["text"] == "Will I need more scans?"


async def test_a_button_payload_is_not_kept_as_a_question(dispatcher, domain, store):
    await ActionSaveQuestion().run(dispatcher, make_tracker(slots={"own_question": "/request_summary"}), domain)
    assert store.own_questions("user-1") == []


# --- letters -------------------------------------------------------------------------------------


def test_a_records_request_names_the_right_of_access_and_the_time_limit_of_the_locale():
    situation = {"specialty": "cardiology", "treatment": "surgery"}
    us = fill_letter("records", BANK, situation, [], "en-US").text
    uk = fill_letter("records", BANK, situation, [], "en-GB").text
    assert "HIPAA" in us and "30 days" in us
    assert "UK GDPR" in uk and "one month" in uk
    assert "cardiology" in us and "cardiology" in uk


async def test_letters_hold_the_users_answers_and_leave_identifiers_as_placeholders(dispatcher, domain, store):
    store.save_preparation("user-1", {"specialty": "neurology", "treatment": "treatment", "opinion": "not_yet"})
    store.add_note("user-1", "question", "Should I keep a seizure diary?")
    tracker = make_tracker("request_letter", text="draft a note for the second doctor", sender_id="user-1")
    await ActionWriteLetter().run(dispatcher, tracker, domain)
    letter = texts(dispatcher)[1]
    assert "second opinion in neurology" in letter
    assert "a treatment was proposed" in letter
    assert "- Should I keep a seizure diary?" in letter
    assert "[Your full name]" in letter and "[Date of birth]" in letter
    assert "user-1" not in letter and store.user_key("user-1") not in letter
    # Nothing about the user's identity was stored by writing it: only the situation codes and the question.
    stored = json.dumps(store.export("user-1"))
    assert "name" not in stored.replace("user_key", "") and "birth" not in stored


async def test_a_vague_letter_request_asks_which_letter(dispatcher, domain, store):
    await ActionWriteLetter().run(dispatcher, make_tracker("request_letter", text="letter templates"), domain)
    assert payloads(dispatcher) == [
        '/request_letter{"letter_kind":"records"}',
        '/request_letter{"letter_kind":"referral"}',
        '/request_letter{"letter_kind":"note"}',
    ]


# --- appointment dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("I see the specialist next Tuesday", date(2026, 12, 1)),
        ("on Friday", date(2026, 11, 27)),
        ("my appointment is on the 14th", date(2026, 12, 14)),
        ("the 30th", date(2026, 11, 30)),
        ("in 3 days", date(2026, 11, 29)),
        ("in two weeks", date(2026, 12, 10)),
        ("tomorrow", date(2026, 11, 27)),
        ("June 5", date(2027, 6, 5)),
        ("the 3rd of March", date(2027, 3, 3)),
        ("2026-12-01", date(2026, 12, 1)),
        ("next week", date(2026, 12, 3)),
        ("I have an appointment", None),
        ("yesterday", None),
    ],
)
def test_appointment_dates_as_people_say_them(said, expected):
    assert parse_appointment_date(said, THURSDAY) == expected


def test_the_checkin_is_the_day_after_unless_a_delay_is_configured(monkeypatch):
    now = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    monkeypatch.delenv("SECONDLOOK_CHECKIN_DELAY_SECONDS", raising=False)
    assert checkin_time(date(2026, 12, 1), now).astimezone().date() == date(2026, 12, 2)
    monkeypatch.setenv("SECONDLOOK_CHECKIN_DELAY_SECONDS", "5")
    assert checkin_time(date(2026, 12, 1), now) == now + timedelta(seconds=5)


# --- the summary ---------------------------------------------------------------------------------


@pytest.fixture
def prepared(store):
    store.mark_done("user-1", "ask_doctor")
    store.set_current_step("user-1", "be_honest")
    store.save_preparation("user-1", {"specialty": "oncology", "treatment": "surgery", "opinion": "not_yet"})
    store.add_note("user-1", "question", "How long can I safely wait?")
    return store


def test_the_pdf_renders_with_the_journey_questions_and_letters(prepared):
    blocks = summary_for_key(prepared, prepared.user_key("user-1"), "en-US", THURSDAY)
    reader = PdfReader(io.BytesIO(to_pdf(blocks)))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert reader.metadata.title == "My second-opinion preparation"
    assert "My second-opinion preparation" in text
    assert "[x] 1. Ask your doctor first" in text
    assert "Would you want a second pathologist" in text
    assert "How long can I safely wait?" in text
    assert "HIPAA" in text and "[Date of birth]" in text


def test_the_markdown_escapes_what_the_user_typed(store):
    store.add_note("user-1", "question", "Is it *really* <b>needed</b>?")
    markdown = to_markdown(summary_for_key(store, store.user_key("user-1"), "en-US", THURSDAY))
    assert markdown.startswith("# My second-opinion preparation")
    assert r"Is it \*really\* \<b\>needed\</b\>?" in markdown
    assert "- [ ] 1. Ask your doctor first" in markdown


def test_summary_links_are_signed_per_user_and_expire():
    token = sign_token("a" * 64, now=1000, ttl=60)
    assert verify_token(token, now=1059) == "a" * 64
    assert verify_token(token, now=1061) is None
    forged = token.replace("a" * 64, "b" * 64)
    assert verify_token(forged, now=1000) is None
    key, expires, signature = token.split(".")
    assert verify_token(f"{key}.{int(expires) + 3600}.{signature}", now=1000) is None


def test_a_link_serves_only_its_own_users_summary(prepared):
    prepared.add_note("user-2", "question", "Another person's question")
    token = sign_token(prepared.user_key("user-1"))
    pdf = render_summary(f"{token}.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    markdown = render_summary(f"{token}.md").body.decode()
    assert "How long can I safely wait?" in markdown and "Another person's question" not in markdown
    assert render_summary(f"{token[:-2]}xx.pdf").status == 403
    assert render_summary(f"{token}.exe").status == 404


async def test_the_web_chat_gets_download_links_and_other_channels_the_text(dispatcher, domain, prepared):
    web = make_tracker("request_summary", events=[{"event": "user", "text": "summary", "input_channel": "webchat"}])
    await ActionSendSummary().run(dispatcher, web, domain)
    [download] = customs(dispatcher, "summary_download")
    assert [link["format"] for link in download["links"]] == ["pdf", "md"]
    token = download["links"][0]["path"].removeprefix("/chat/summary/").removesuffix(".pdf")
    assert verify_token(token) == prepared.user_key("user-1")

    dispatcher.messages.clear()
    telegram_turn = {"event": "user", "text": "summary", "input_channel": "telegram"}
    telegram = make_tracker("request_summary", events=[telegram_turn])
    await ActionSendSummary().run(dispatcher, telegram, domain)
    assert customs(dispatcher, "summary_download") == []
    assert "How long can I safely wait?" in texts(dispatcher)[1]


# --- the check-in --------------------------------------------------------------------------------


async def test_an_appointment_date_gets_a_checkin_offer(dispatcher, domain, store):
    tracker = make_tracker("mention_appointment", text="I see the specialist in 3 days")
    events = await ActionOfferCheckin().run(dispatcher, tracker, domain)
    expected = (datetime.now().astimezone().date() + timedelta(days=3)).isoformat()
    assert events == [SlotSet("appointment_date", expected)]
    assert payloads(dispatcher) == ["/affirm", "/deny"]


async def test_accepting_schedules_a_stored_reminder_and_cancelling_removes_it(dispatcher, domain, store):
    tracker = make_tracker("affirm", slots={"appointment_date": "2026-12-01"})
    events = await ActionScheduleCheckin().run(dispatcher, tracker, domain)
    [reminder] = [event for event in events if event["event"] == "reminder"]
    assert reminder["intent"] == CHECKIN_INTENT and reminder["kill_on_user_msg"] is False
    [stored] = store.reminders("user-1")
    assert stored["name"] == reminder["name"] and stored["appointment_on"] == "2026-12-01"
    assert store.export("user-1")["check_ins"] == [{"appointment_on": "2026-12-01", "due_at": stored["due_at"]}]

    events = await ActionCancelCheckin().run(dispatcher, make_tracker("cancel_reminder"), domain)
    assert events == [ReminderCancelled(intent_name=CHECKIN_INTENT)]
    assert store.reminders("user-1") == []


async def test_the_checkin_asks_once_when_it_fires(dispatcher, domain, store):
    due = datetime.now(timezone.utc) - timedelta(seconds=1)
    store.schedule_reminder("user-1", "checkin-x", "rest", date(2026, 12, 1), due)
    fired = make_tracker(CHECKIN_INTENT, text=f"EXTERNAL: {CHECKIN_INTENT}")
    events = await ActionAppointmentCheckin().run(dispatcher, fired, domain)
    assert events == [ReminderCancelled(name="checkin-x")]
    assert "How did it go?" in texts(dispatcher)[0] and "Tuesday 1 December" in texts(dispatcher)[0]

    dispatcher.messages.clear()
    assert await ActionAppointmentCheckin().run(dispatcher, fired, domain) == []
    assert texts(dispatcher) == []


async def test_a_new_session_registers_the_pending_checkins_again(dispatcher, domain, store):
    later = datetime.now(timezone.utc) + timedelta(days=3)
    store.schedule_reminder("user-1", "checkin-y", "rest", date(2026, 12, 1), later)
    events = await ActionSessionStart().run(dispatcher, make_tracker(events=[]), domain)
    assert ReminderScheduled(CHECKIN_INTENT, later, name="checkin-y", kill_on_user_message=False) in events


async def test_forget_me_erases_the_preparation_too(store):
    store.save_preparation("user-1", {"specialty": "oncology"})
    store.add_note("user-1", "question", "Anything?")
    store.schedule_reminder("user-1", "checkin-z", "rest", date(2026, 12, 1), datetime.now(timezone.utc))
    store.forget("user-1")
    assert store.preparation("user-1") == {} and store.own_questions("user-1") == []
    assert store.reminders("user-1") == [] and store.pending_reminders() == []


async def test_show_my_data_lists_the_preparation(dispatcher, domain, store, conversations):
    store.save_preparation("user-1", {"specialty": "oncology", "opinion": "not_yet"})
    store.add_note("user-1", "question", "Anything?")
    due = datetime(2026, 12, 2, 9, tzinfo=timezone.utc)
    store.schedule_reminder("user-1", "checkin-s", "rest", date(2026, 12, 1), due)
    await ActionShowMyData().run(dispatcher, make_tracker("request_my_data"), domain)
    summary = texts(dispatcher)[0]
    assert "what you told me for your question list (oncology; no second opinion yet)" in summary
    assert "a check-in planned for Wednesday 2 December, with this chat's id so that I can send it" in summary
    assert "1 question of your own" in summary and "Anything?" not in summary
    assert customs(dispatcher, "data_export")[0]["links"]

"""The emergency reply: the right numbers per kind and locale, the flow stopped, the event logged
without the message text."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from sqlalchemy import select

from actions.safety_actions import ActionAnswerCheckIn, ActionHandleEmergency
from secondlook import progress_schema
from tests.conftest import make_tracker, payloads, texts


def emergency_tracker(kind: str | None, *, metadata: dict | None = None, active_loop: str | None = None) -> Tracker:
    entities = [{"entity": "emergency_kind", "value": kind, "rule": "test-rule"}] if kind else []
    tracker = make_tracker("emergency", text="(message text)", entities=entities, slots={"rehearsal_active": True})
    tracker.latest_message["metadata"] = metadata or {}
    if active_loop:
        tracker.active_loop = {"name": active_loop}
    return tracker


@pytest.mark.parametrize(
    "locale,kind,must_have,must_not_have",
    [
        ("en-US", "medical_emergency", ["911"], ["988"]),
        ("en-US", "self_harm", ["988", "911"], []),
        ("en-GB", "medical_emergency", ["999", "111"], ["911"]),
        ("en-GB", "self_harm", ["116 123", "999"], ["911", "988"]),
        ("EU", "medical_emergency", ["112"], ["911"]),
        ("EU", "self_harm", ["112"], ["911", "988"]),
    ],
)
async def test_the_reply_gives_the_locale_numbers_for_the_kind(
    locale, kind, must_have, must_not_have, dispatcher, domain, store, monkeypatch
):
    monkeypatch.setenv("SECONDLOOK_LOCALE", locale)
    await ActionHandleEmergency().run(dispatcher, emergency_tracker(kind), domain)
    reply = " ".join(texts(dispatcher))
    assert "only an assistant" in reply
    for number in must_have:
        assert number in reply
    for number in must_not_have:
        assert number not in reply


async def test_a_classifier_only_emergency_gets_both_replies(dispatcher, domain, store):
    await ActionHandleEmergency().run(dispatcher, emergency_tracker(None), domain)
    reply = " ".join(texts(dispatcher))
    assert "911" in reply and "988" in reply


async def test_a_channel_can_ask_for_its_users_locale(dispatcher, domain, store, monkeypatch):
    monkeypatch.delenv("SECONDLOOK_LOCALE", raising=False)
    await ActionHandleEmergency().run(
        dispatcher, emergency_tracker("medical_emergency", metadata={"locale": "en-GB"}), domain
    )
    assert "999" in texts(dispatcher)[0]


async def test_the_flow_is_stopped(dispatcher, domain, store):
    events = await ActionHandleEmergency().run(
        dispatcher, emergency_tracker("self_harm", active_loop="some_form"), domain
    )
    assert events == [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet("rehearsal_active", False),
        SlotSet("line_assessment", None),
        SlotSet("crisis_check_in", False),
    ]


def logged_events(store) -> list[dict]:
    """The safety review log as a reviewer reads it: the table itself, oldest first."""
    query = select(progress_schema.safety_events).order_by(progress_schema.safety_events.c.id)
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


async def test_the_event_is_logged_without_the_text_or_the_sender(dispatcher, domain, store):
    await ActionHandleEmergency().run(dispatcher, emergency_tracker("medical_emergency"), domain)
    logged = logged_events(store)
    assert len(logged) == 1
    row = logged[0]
    assert (row["kind"], row["source"], row["rule"]) == ("medical_emergency", "screen", "test-rule")
    assert row["user_key"] == store.user_key("user-1")
    assert "(message text)" not in repr(row) and "user-1" not in repr(row)


async def test_forget_me_also_erases_safety_events(dispatcher, domain, store):
    await ActionHandleEmergency().run(dispatcher, emergency_tracker("self_harm"), domain)
    assert store.export("user-1")["safety_events"][0]["kind"] == "self_harm"
    store.forget("user-1")
    assert logged_events(store) == []


LINES = {"en-US": ("988", "911"), "en-GB": ("116 123", "999"), "EU": ("crisis line", "112")}
FOREIGN = {"en-US": ["999", "116 123", "112"], "en-GB": ["911", "988", "112"], "EU": ["911", "988", "999"]}


@pytest.mark.parametrize("locale", sorted(LINES))
async def test_a_check_in_asks_plainly_gives_the_line_and_a_way_back(locale, dispatcher, domain, store, monkeypatch):
    monkeypatch.setenv("SECONDLOOK_LOCALE", locale)
    events = await ActionHandleEmergency().run(dispatcher, emergency_tracker("check_in"), domain)
    reply = " ".join(texts(dispatcher))
    assert "suicide" in reply and "?" in reply
    assert all(number in reply for number in LINES[locale])
    assert not any(number in reply for number in FOREIGN[locale])
    assert payloads(dispatcher) == ["/affirm", "/deny"]
    assert SlotSet("rehearsal_active", False) in events and ActiveLoop(None) in events
    assert SlotSet("crisis_check_in", True) in events


@pytest.mark.parametrize("locale", sorted(LINES))
async def test_a_worried_relative_gets_the_guidance_for_helping_someone(locale, dispatcher, domain, store, monkeypatch):
    monkeypatch.setenv("SECONDLOOK_LOCALE", locale)
    events = await ActionHandleEmergency().run(dispatcher, emergency_tracker("other_person"), domain)
    reply = " ".join(texts(dispatcher))
    assert "ask them directly" in reply and "stay with them" in reply and "together" in reply
    assert all(number in reply for number in LINES[locale])
    assert SlotSet("rehearsal_active", False) in events


def answer_tracker(intent: str, check_in: bool) -> Tracker:
    return make_tracker(intent, text="(answer)", slots={"crisis_check_in": check_in})


async def test_yes_to_a_check_in_gets_the_self_harm_reply_and_is_logged(dispatcher, domain, store):
    events = await ActionAnswerCheckIn().run(dispatcher, answer_tracker("affirm", True), domain)
    assert "988" in texts(dispatcher)[0] and "911" in texts(dispatcher)[0]
    assert events == [SlotSet("crisis_check_in", False)]
    logged = logged_events(store)
    assert [(row["kind"], row["source"]) for row in logged] == [("self_harm", "check_in")]


async def test_no_to_a_check_in_leads_warmly_back(dispatcher, domain, store):
    await ActionAnswerCheckIn().run(dispatcher, answer_tracker("deny", True), domain)
    reply = texts(dispatcher)[0]
    assert "glad" in reply and "988" in reply
    assert "/next_step" in payloads(dispatcher)

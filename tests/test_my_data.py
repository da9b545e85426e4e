"""The answer to "what do you keep about me?" against what the stores really hold, and the full copy
behind a signed, short-lived, single-purpose link. Real stores on SQLite files: the
progress store the actions use and the project's tracker store, named by an endpoints file as in
production."""

import json
import re
import time

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUtteranceReverted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.privacy_actions import ActionShowMyData, _tracker_store
from channels.privacy import export_file, purge_once, render_export
from channels.slack import SlackApi, SlackOutput
from channels.telegram import BotApi, PayloadBook, TelegramOutput
from secondlook import my_data
from secondlook.my_data import sign_export_token, verify_export_token
from secondlook.summary import sign_token
from stores.tracker_store import ErasableSQLTrackerStore
from tests.conftest import customs, make_tracker, texts
from tests.standins import SlackStandIn, TelegramStandIn

NOW = 1_780_000_000.0


async def chat(store: ErasableSQLTrackerStore, sender: str, lines: list[str], start: float) -> None:
    """Stores a conversation: each line, and a reply to it."""
    events = []
    for index, line in enumerate(lines):
        moment = start + 10 * index
        events += [
            ActionExecuted("action_listen", timestamp=moment),
            UserUttered(line, {"name": "doubt_diagnosis", "confidence": 0.9}, timestamp=moment + 1),
            BotUttered(f"reply {index}", timestamp=moment + 2),
        ]
    await store.save(DialogueStateTracker.from_events(sender, events, store.domain.slots))


def asking(sender: str = "user-1") -> object:
    """The turn in progress: the question itself, not stored yet (Rasa saves after the turn)."""
    question = {"event": "user", "timestamp": time.time(), "text": "what do you keep about me?"}
    return make_tracker("request_my_data", sender_id=sender, events=[question])


async def test_the_answer_states_what_the_stores_hold(dispatcher, domain, store, conversations):
    lines = [f"My oncologist Dr Quinn says it is stage {n} lymphoma" for n in range(7)]
    await chat(conversations, "user-1", lines, start=NOW)
    await chat(conversations, "someone-else", ["hello"] * 3, start=NOW)
    store.mark_done("user-1", "ask_doctor")
    store.mark_done("user-1", "be_honest")
    store.add_note("user-1", "question", "Can my partner come?")

    await ActionShowMyData().run(dispatcher, asking(), domain)

    [answer] = texts(dispatcher)
    stored = conversations.message_counts("user-1")
    assert stored.user == 7  # and the question being answered will be stored with this turn
    assert f"the {stored.user + 1} messages you wrote me since 28 May 2026" in answer
    assert "health details" in answer and "45 days" in answer
    assert "2 steps done (“Ask your doctor first”, “Be honest about why”)" in answer
    assert "1 question of your own" in answer
    assert "I keep no name" not in answer and "delete my data" in answer
    assert "{" not in answer and len(answer) < 1200  # short, and no JSON in the chat
    [offer] = customs(dispatcher, "data_export")
    assert "document" not in offer and offer["links"][0]["path"].startswith("/chat/my-data/")


async def test_after_erasure_the_answer_says_nothing_is_kept(dispatcher, domain, store, conversations):
    await chat(conversations, "user-1", ["my cardiologist wants to operate"], start=NOW)
    store.mark_done("user-1", "ask_doctor")
    store.forget("user-1")
    conversations.erase("user-1")

    await ActionShowMyData().run(dispatcher, asking(), domain)

    [answer] = texts(dispatcher)
    assert answer.startswith("Right now I keep nothing about you") and "45 days" in answer
    assert customs(dispatcher, "data_export") == []


async def test_on_telegram_the_copy_comes_as_a_file(dispatcher, domain, store, conversations):
    await chat(conversations, "telegram-5", ["hi"], start=NOW)
    tracker = asking("telegram-5")
    tracker.events[0]["input_channel"] = "telegram"
    await ActionShowMyData().run(dispatcher, tracker, domain)
    assert "open the file I'm sending now" in texts(dispatcher)[0]
    assert "Telegram keeps its own copy" in texts(dispatcher)[0]
    [offer] = customs(dispatcher, "data_export")
    assert "links" not in offer and offer["filename"].endswith(".json")


async def test_an_unreadable_conversation_store_is_said_not_guessed(dispatcher, domain, store, tmp_path, monkeypatch):
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: InMemoryTrackerStore\n")
    monkeypatch.setenv("ENDPOINTS", str(tmp_path / "endpoints.yml"))
    _tracker_store.cache_clear()
    store.mark_done("user-1", "ask_doctor")
    await ActionShowMyData().run(dispatcher, asking(), domain)
    _tracker_store.cache_clear()
    assert "I couldn't count them just now" in texts(dispatcher)[0]


# --- the link -----------------------------------------------------------------------------------------


def test_a_link_opens_its_sender_until_it_expires():
    token = sign_export_token("telegram-42", now=NOW, ttl=600)
    assert "telegram-42" not in token
    assert verify_export_token(token, now=NOW + 599) == "telegram-42"
    assert verify_export_token(token, now=NOW + 601) is None


def test_altered_forged_and_foreign_tokens_are_refused(monkeypatch):
    token = sign_export_token("user-1", now=NOW)
    altered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert verify_export_token(altered, now=NOW) is None
    assert verify_export_token(token + "x", now=NOW) is None
    assert verify_export_token("not a token", now=NOW) is None
    assert verify_export_token(sign_token("0" * 64, now=NOW), now=NOW) is None  # a summary link's token
    monkeypatch.setenv("SECONDLOOK_LINK_SECRET", "someone else's secret")
    forged = sign_export_token("user-1", now=NOW)
    monkeypatch.delenv("SECONDLOOK_LINK_SECRET")
    assert verify_export_token(forged, now=NOW) is None


def test_a_token_for_another_purpose_is_refused(monkeypatch):
    monkeypatch.setattr(my_data, "TOKEN_PURPOSE", "summary")
    other = sign_export_token("user-1", now=NOW)
    monkeypatch.undo()
    assert verify_export_token(other, now=NOW) is None


async def test_the_download_holds_only_that_senders_data(store, conversations):
    await chat(conversations, "user-1", ["my neurologist found a lesion"], start=NOW)
    await chat(conversations, "user-2", ["someone else's secret"], start=NOW)
    store.mark_done("user-1", "ask_doctor")
    store.mark_done("user-2", "move_on")

    reply = render_export(sign_export_token("user-1", now=NOW) + ".json", conversations, now=NOW + 60)

    assert reply.status == 200
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="secondlook-my-data-')
    assert reply.headers["Cache-Control"] == "no-store" and reply.content_type.startswith("application/json")
    document = json.loads(reply.body)
    said = [message["text"] for message in document["conversation"]["messages"] if message["from"] == "you"]
    assert said == ["my neurologist found a lesion"]
    assert len(document["conversation"]["stored_events"]) == len(conversations.stored_events("user-1"))
    assert [row["step"] for row in document["progress"]["completed_steps"]] == ["ask_doctor"]
    assert "someone else" not in reply.body.decode() and "move_on" not in reply.body.decode()
    assert document["retention_days"] == 45


async def test_a_message_read_again_in_context_is_counted_and_copied_once(store, conversations):
    # An unsure reply after advice is reverted and uttered again with the intent it was read as
    # (actions/fallback_actions.py): Rasa stores it twice, the person wrote it once.
    text = "got a name from a friend and asked for my records"
    events = [
        ActionExecuted("action_listen", timestamp=NOW),
        UserUttered(text, {"name": "nlu_fallback", "confidence": 0.3}, timestamp=NOW + 1),
        ActionExecuted("action_clarify_intent", timestamp=NOW + 2),
        UserUtteranceReverted(timestamp=NOW + 2),
        ActionExecuted("action_listen", timestamp=NOW + 2),
        UserUttered(text, {"name": "report_progress", "confidence": 0.22}, timestamp=NOW + 2),
        BotUttered("Ticked: step 3", timestamp=NOW + 3),
    ]
    await conversations.save(DialogueStateTracker.from_events("user-1", events, conversations.domain.slots))
    assert [event["event"] for event in conversations.stored_events("user-1")].count("user") == 2

    assert conversations.message_counts("user-1").user == 1
    document = json.loads(export_file(conversations, "user-1", now=NOW + 60))
    said = [(message["from"], message["text"]) for message in document["conversation"]["messages"]]
    assert said == [("you", text), ("assistant", "Ticked: step 3")]
    # The turn in progress, not stored yet, counts it once too.
    unsaved = [event.as_dict() for event in events]
    assert my_data.unsaved_user_messages(unsaved, last_stored=None) == 1


async def test_a_bad_or_expired_link_gets_nothing(store, conversations):
    await chat(conversations, "user-1", ["my neurologist found a lesion"], start=NOW)
    token = sign_export_token("user-1", now=NOW, ttl=60)
    for name, moment in ((token + ".json", NOW + 61), (token[:-3] + "abc.json", NOW), ("x.json", NOW)):
        reply = render_export(name, conversations, now=moment)
        assert reply.status == 403 and b"lesion" not in reply.body
    assert render_export(token + ".pdf", conversations, now=NOW).status == 404


async def test_the_copy_follows_erasure(store, conversations):
    await chat(conversations, "user-1", ["my neurologist found a lesion"], start=NOW)
    conversations.erase("user-1")
    document = json.loads(export_file(conversations, "user-1", now=NOW))
    assert document["conversation"] == {"messages": [], "stored_events": []}


async def test_the_daily_purge_uses_the_stated_period(store, conversations):
    await chat(conversations, "old", ["hello"], start=time.time() - 46 * 86400)
    await chat(conversations, "recent", ["hello"], start=time.time() - 44 * 86400)
    users, events = purge_once(conversations)
    assert events > 0 and conversations.stored_events("old") == []
    assert conversations.stored_events("recent") != [] and users == 0


def test_the_stated_period_is_the_purge_setting(monkeypatch):
    from secondlook.retention import DEFAULT_RETENTION_DAYS, retention_days

    monkeypatch.delenv("SECONDLOOK_RETENTION_DAYS", raising=False)
    assert retention_days() == DEFAULT_RETENTION_DAYS == 180
    monkeypatch.setenv("SECONDLOOK_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match=re.escape("SECONDLOOK_RETENTION_DAYS")):
        retention_days()


# --- the file on Telegram and Slack (the output channels against the API stand-ins) ---------------------


@pytest.fixture
def telegram_api():
    stand_in = TelegramStandIn("123:abc", "SLBot").start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def slack_api():
    stand_in = SlackStandIn().start()
    yield stand_in
    stand_in.stop()


EXPORT_REQUEST = {"data": {"type": "data_export", "filename": "secondlook-my-data.json"}}


async def test_telegram_sends_the_copy_as_a_document(store, conversations, telegram_api):
    await chat(conversations, "telegram-77", ["my gp thinks it's nothing"], start=NOW)
    api = BotApi(telegram_api.url, "123:abc")
    output = TelegramOutput(api, PayloadBook(), 77)
    output.tracker_store = conversations
    await output.send_custom_json("telegram-77", EXPORT_REQUEST)
    await api.close()
    [call] = telegram_api.calls_to("sendDocument")
    assert call.json["chat_id"] == "77" and call.json["caption"] == "Everything I keep about you, as of now."
    name, content = call.files["document"]
    assert name.endswith(".json") and json.loads(content)["conversation"]["messages"][0]["text"] == (
        "my gp thinks it's nothing"
    )
    assert telegram_api.calls_to("sendMessage") == []


async def test_slack_shares_the_copy_as_a_file_in_the_thread(store, conversations, slack_api):
    await chat(conversations, "slack-T1-U1", ["my gp thinks it's nothing"], start=NOW)
    api = SlackApi(slack_api.api_base_url, "xoxb-test")
    output = SlackOutput(api, "D123", thread_ts="5.5")
    output.tracker_store = conversations
    await output.send_custom_json("slack-T1-U1", EXPORT_REQUEST)
    await api.close()
    [ask] = slack_api.calls_to("files.getUploadURLExternal")
    [done] = slack_api.calls_to("files.completeUploadExternal")
    [shared] = json.loads(done.json["files"])
    uploaded = slack_api.uploaded[shared["id"]]
    assert ask.json["length"] == str(len(uploaded)) and ask.json["filename"].endswith(".json")
    assert done.json["channel_id"] == "D123" and done.json["thread_ts"] == "5.5"
    assert json.loads(uploaded)["conversation"]["messages"][0]["text"] == "my gp thinks it's nothing"
    assert slack_api.calls_to("chat.postMessage") == []


async def test_a_file_that_cannot_be_delivered_is_said(store, conversations, slack_api):
    api = SlackApi(slack_api.api_base_url, "xoxb-test")
    output = SlackOutput(api, "D123")
    output.tracker_store = None  # not the project's tracker store: no copy that would lie by omission
    await output.send_custom_json("slack-T1-U1", EXPORT_REQUEST)
    await api.close()
    [said] = slack_api.calls_to("chat.postMessage")
    assert said.json["text"] == "I couldn't send you the file just now. Please ask me again in a moment."
    assert slack_api.calls_to("files.getUploadURLExternal") == []


async def test_the_rasa_server_schedules_the_purge_daily_and_refuses_a_wrong_period(monkeypatch):
    from types import SimpleNamespace

    from rasa.core import jobs

    from channels.privacy import PURGE_JOB_ID, PrivacyInput

    [listener] = [item.listener for item in PrivacyInput().blueprint(None)._future_listeners]
    app = SimpleNamespace(ctx=SimpleNamespace(agent=None))
    try:
        await listener(app, None)
        job = (await jobs.scheduler()).get_job(PURGE_JOB_ID)
        assert job.trigger.interval.days == 1 and job.next_run_time.timestamp() - time.time() < 120
        monkeypatch.setenv("SECONDLOOK_RETENTION_DAYS", "half a year")
        with pytest.raises(ValueError):
            await listener(app, None)
    finally:
        jobs.kill_scheduler()

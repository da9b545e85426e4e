"""The Slack channel: fast unit tests of its pieces, then the real Rasa and action servers with the
channel pointed at a Web API stand-in on 127.0.0.1 that records every call (one server per module)."""

from __future__ import annotations

import json
import random
import sqlite3
import string
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from channels.common import channel_notes
from channels.guard import too_long_text
from channels.slack import (
    MAX_BUTTON_TITLE,
    MAX_FUTURE_SECONDS,
    SlackInput,
    SlackOutput,
    button_blocks,
    delivery_key,
    escape,
    parse_body,
    parse_button,
    parse_event,
    signature,
    verify_request,
)
from secondlook.devtools.servers import BotProcesses, reply_text
from tests.standins import CHANNEL_CREDENTIALS, CHANNEL_VARIABLES, SlackStandIn, quiet_wait

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0TEST"

# --- unit tests --------------------------------------------------------------------------------------


def test_the_signature_is_slacks_documented_example():
    # The worked example of Slack's "Verifying requests from Slack" page.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert signature(SIGNING_SECRET, "1531420618", body) == expected
    assert verify_request(SIGNING_SECRET, "1531420618", expected, body, now=1531420618 + 10) is None


def test_stale_future_forged_and_unsigned_requests_are_refused():
    body = b'{"type": "event_callback"}'
    now = 1_700_000_000
    good = signature(SIGNING_SECRET, str(now), body)
    assert verify_request(SIGNING_SECRET, str(now), good, body, now=now + 299) is None
    assert verify_request(SIGNING_SECRET, str(now), good, body, now=now + 301) == "stale timestamp"
    # Forwards only a small clock skew: a timestamp far ahead would keep a captured request replayable.
    assert verify_request(SIGNING_SECRET, str(now), good, body, now=now - MAX_FUTURE_SECONDS) is None
    assert verify_request(SIGNING_SECRET, str(now), good, body, now=now - MAX_FUTURE_SECONDS - 1) == "future timestamp"
    assert verify_request(SIGNING_SECRET, str(now), good, body, now=now - 290) == "future timestamp"
    assert verify_request(SIGNING_SECRET, str(now), good, body + b" ", now=now) == "bad signature"
    assert verify_request("other-secret", str(now), good, body, now=now) == "bad signature"
    assert verify_request(SIGNING_SECRET, "", "", body, now=now) == "no timestamp"


def test_bodies_are_read_with_any_charset_and_from_forms():
    assert parse_body("application/json; charset=utf-8", b'{"a": 1}') == {"a": 1}
    assert parse_body("Application/JSON", b'{"a": 1}') == {"a": 1}
    form = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    assert parse_body("application/x-www-form-urlencoded", form) == {"type": "block_actions"}
    assert parse_body("application/json", b"{broken") is None
    assert parse_body("application/json", b"[1]") is None
    assert parse_body("text/plain", b'{"a": 1}') is None
    assert parse_body("application/json", b"\xff\xfe") is None


def test_buttons_become_block_kit_within_its_limits_else_text():
    buttons = [{"title": "What's next?", "payload": "/next_step"}, {"title": "Where am I?", "payload": "/ask_progress"}]
    section, actions = button_blocks("Step 1 <of> 5 & more", buttons)
    assert section["text"]["text"] == "Step 1 &lt;of&gt; 5 &amp; more"
    assert [element["value"] for element in actions["elements"]] == ["/next_step", "/ask_progress"]
    assert len({element["action_id"] for element in actions["elements"]}) == 2
    assert button_blocks("x", [{"title": "t" * (MAX_BUTTON_TITLE + 1), "payload": "/a"}]) is None
    assert button_blocks("x", [{"title": str(n), "payload": "/a"} for n in range(26)]) is None
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_events_become_turns_only_for_people_in_dms_and_mentions():
    dm = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "text": "hi", "ts": "1.0"}
    assert parse_event(TEAM, dm).text == "hi" and parse_event(TEAM, dm).thread_ts is None
    assert parse_event(TEAM, {**dm, "thread_ts": "0.5"}).thread_ts == "0.5"
    assert parse_event(TEAM, {**dm, "bot_id": "B1"}) is None  # the bot's own posts
    assert parse_event(TEAM, {**dm, "subtype": "message_changed"}) is None  # edits are not new turns
    assert parse_event(TEAM, {**dm, "channel_type": "channel"}) is None  # channel chatter
    assert parse_event(TEAM, {**dm, "subtype": "file_share"}).note == "text_only"
    mention = {"type": "app_mention", "user": "U1", "channel": "C1", "text": "<@U0BOT> where am I?", "ts": "2.0"}
    turn = parse_event(TEAM, mention)
    # In a channel everyone reads along: only the invitation to a DM, in a thread under the mention.
    assert turn.note == "dm_only" and turn.text is None and turn.thread_ts == "2.0"
    assert turn.sender_id == f"slack-{TEAM}-U1"
    in_dm = parse_event(TEAM, {**mention, "channel": "D1", "channel_type": "im"})
    assert in_dm.text == "where am I?" and in_dm.note is None
    assert parse_event(TEAM, {"type": "reaction_added", "user": "U1", "channel": "C1"}) is None


def test_a_button_pressed_outside_a_dm_gets_only_the_invitation():
    press = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "actions": [{"type": "button", "value": "/ask_progress"}],
    }
    assert parse_button(press).note == "dm_only" and parse_button(press).text is None
    assert parse_button({**press, "channel": {"id": "D1"}}).text == "/ask_progress"


def test_every_delivery_has_a_stable_key_with_or_without_an_event_id():
    event = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "text": "hi", "ts": "1.000100"}
    envelope = {"type": "event_callback", "team_id": TEAM, "event": event}
    assert delivery_key({**envelope, "event_id": "Ev1"}, b"") == "id:Ev1"
    assert delivery_key({"type": "block_actions", "trigger_id": "t1"}, b"") == "id:t1"
    keyed = delivery_key(envelope, b"one body")
    assert keyed == delivery_key(envelope, b"the same event re-sent in another envelope")
    assert keyed != delivery_key({**envelope, "event": {**event, "ts": "1.000200"}}, b"one body")
    assert keyed != delivery_key({**envelope, "event": {**event, "user": "U2"}}, b"one body")
    assert delivery_key({"type": "other"}, b"a") == delivery_key({"type": "other"}, b"a")
    assert delivery_key({"type": "other"}, b"a") != delivery_key({"type": "other"}, b"b")


def test_both_token_and_signing_secret_are_needed(monkeypatch):
    for name in CHANNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not SlackInput.from_credentials(None).enabled
    monkeypatch.setenv("SLACK_TOKEN", BOT_TOKEN)
    assert not SlackInput.from_credentials({"slack_token": "${SLACK_TOKEN}"}).enabled
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    channel = SlackInput.from_credentials(None)
    assert channel.enabled and channel.api.base == "https://slack.com/api/"


# --- end to end ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api():
    stand_in = SlackStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, api):
    workdir = tmp_path_factory.mktemp("slack")
    credentials = workdir / "credentials.yml"
    credentials.write_text(CHANNEL_CREDENTIALS)
    env = {name: "" for name in CHANNEL_VARIABLES}  # Telegram stays off
    env.update(SLACK_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_BASE_URL=api.api_base_url)
    processes = BotProcesses(workdir, env=env, credentials=credentials)
    try:
        yield processes.start()
    finally:
        processes.stop()


def _random_id(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_uppercase + string.digits, k=10))


class SlackUser:
    """A person writing to the bot in a direct message, delivered as the Events API would."""

    def __init__(self, bot: BotProcesses, api: SlackStandIn) -> None:
        self.bot, self.api = bot, api
        self.user_id = _random_id("U")
        self.channel = _random_id("D")

    def post(
        self,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(secret, stamp, body),
            **(headers or {}),
        }
        return requests.post(f"{self.bot.url}/webhooks/slack/webhook", data=body, headers=signed, timeout=10)

    def event_body(self, text: str, **event: Any) -> bytes:
        message = {
            "type": "message",
            "channel_type": "im",
            "user": self.user_id,
            "channel": self.channel,
            "text": text,
            "ts": f"{time.time():.6f}",
            **event,
        }
        envelope = {"type": "event_callback", "team_id": TEAM, "event_id": _random_id("Ev"), "event": message}
        if "bot_id" not in message:  # the message is in the conversation at Slack
            self.api.user_posted(self.channel, self.user_id, message["ts"], message.get("thread_ts"))
        return json.dumps(envelope).encode()

    def posts(self) -> list[dict[str, Any]]:
        return [
            call.json for call in self.api.calls_to("chat.postMessage", lambda c: c.json["channel"] == self.channel)
        ]

    def exchange(self, body: bytes, **post: Any) -> list[dict[str, Any]]:
        before = len(self.posts())
        assert self.post(body, **post).status_code == 200
        quiet_wait(lambda: len(self.posts()), before)
        return self.posts()[before:]

    def say(self, text: str, **event: Any) -> str:
        return "\n".join(post["text"] for post in self.exchange(self.event_body(text, **event)))

    def press(self, title: str) -> str:
        """Presses a button of the latest Block Kit message, as Slack's interactivity reports it."""
        message = next(post for post in reversed(self.posts()) if post.get("blocks"))
        elements = message["blocks"][1]["elements"]
        button = next(element for element in elements if element["text"]["text"] == title)
        action = {**button, "block_id": "b1", "action_ts": f"{time.time():.6f}"}
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": self.user_id, "team_id": TEAM},
            "channel": {"id": self.channel},
            "container": {"type": "message", "message_ts": "1.0", "channel_id": self.channel},
            "trigger_id": _random_id("trigger"),
            "message": {"ts": "1.0", "text": message["text"], "blocks": message["blocks"]},
            "actions": [action],
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        replies = self.exchange(form, content_type="application/x-www-form-urlencoded")
        return "\n".join(post["text"] for post in replies)


@pytest.fixture
def user(bot, api) -> SlackUser:
    return SlackUser(bot, api)


def test_the_url_verification_challenge_is_answered_when_signed(user):
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "c-123"}).encode()
    assert user.post(body).json() == {"challenge": "c-123"}
    assert user.post(body, secret="forged").status_code == 401


def test_a_genuine_message_is_answered_by_bearer_token_without_as_user_then_the_note_once(user, api):
    first = user.exchange(user.event_body("hi"))
    assert "not a doctor" in first[0]["text"] and "911" in reply_text(first)
    assert "keep details of your health" in first[-1]["text"]  # the one-time note, after the replies
    calls = api.calls_to("chat.postMessage", lambda call: call.json["channel"] == user.channel)
    assert all(call.headers["authorization"] == f"Bearer {BOT_TOKEN}" for call in calls)
    assert all("as_user" not in call.json for call in calls)
    assert all(call.path == "/api/chat.postMessage" for call in calls)
    second = user.say("what can you do?")
    assert "five steps" in second and "keep details of your health" not in second


def test_forged_and_stale_requests_are_refused_and_unanswered(user):
    assert user.post(user.event_body("hi"), secret="forged-secret").status_code == 401
    assert user.post(user.event_body("hi"), timestamp=int(time.time()) - 600).status_code == 401
    unsigned = requests.post(f"{user.bot.url}/webhooks/slack/webhook", data=user.event_body("hi"), timeout=10)
    assert unsigned.status_code == 401
    time.sleep(3)
    assert user.posts() == []


def test_other_events_and_the_bots_own_messages_get_200_and_nothing_else(user):
    reaction = {"type": "reaction_added", "user": user.user_id, "reaction": "thumbsup", "item": {}}
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": _random_id("Ev"), "event": reaction})
    assert user.post(body.encode()).status_code == 200
    assert user.post(user.event_body("I doubt my diagnosis", bot_id="B0BOT")).status_code == 200
    assert user.post(user.event_body("edited", subtype="message_changed")).status_code == 200
    time.sleep(3)
    assert user.posts() == []


def test_retries_and_duplicate_events_are_answered_once(user):
    user.say("hello")
    body = user.event_body("where am i with all this?")
    before = len(user.posts())
    assert user.post(body).status_code == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert user.post(body, headers=retry).status_code == 200
    assert user.post(body).status_code == 200
    quiet_wait(lambda: len(user.posts()), before, settle=3)
    assert sum("steps done" in post["text"] for post in user.posts()) == 1


def test_a_journey_step_with_block_kit_buttons_and_a_press(user):
    user.say("hi")
    assert "Step 1 of 5" in user.say("i dont think my doctor got my diagnosis right")
    assert "ticked off step 1" in user.press("I've done this step")
    assert "Step 2 of 5" in user.press("What's next?")
    sent = " ".join(post["text"] for post in user.posts())
    assert "journey_progress" not in sent and '{"data"' not in sent  # the machine payloads stay off Slack


def test_replies_stay_in_the_thread_they_were_asked_in(user):
    user.say("hi")
    replies = user.exchange(user.event_body("what can you do?", thread_ts="1700000000.000100"))
    assert replies and all(post.get("thread_ts") == "1700000000.000100" for post in replies)


def stored_events(bot: BotProcesses, sender_id: str) -> int:
    """How many events the tracker store holds for a sender, read from its database directly."""
    with sqlite3.connect(bot.tracker_db) as database:
        return database.execute("SELECT count(*) FROM events WHERE sender_id = ?", (sender_id,)).fetchone()[0]


def test_a_mention_in_a_channel_gets_only_the_invitation_to_a_dm_and_nothing_is_stored(user, bot):
    channel = _random_id("C")
    mention = {
        "type": "app_mention",
        "user": user.user_id,
        "channel": channel,
        "text": "<@U0BOT> what do you store about me?",
        "ts": "1700000001.000200",
    }
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": _random_id("Ev"), "event": mention})
    assert user.post(body.encode()).status_code == 200

    def posts_in_channel() -> list[dict[str, Any]]:
        return [call.json for call in user.api.calls_to("chat.postMessage", lambda c: c.json["channel"] == channel)]

    quiet_wait(lambda: len(posts_in_channel()), 0, settle=3)
    (reply,) = posts_in_channel()
    assert reply["text"] == channel_notes("slack")["dm_only"].replace("{emergency}", "911")
    assert reply["thread_ts"] == "1700000001.000200" and "blocks" not in reply
    assert stored_events(bot, f"slack-{TEAM}-{user.user_id}") == 0  # no turn ran, nothing was kept


def test_a_signed_event_without_an_event_id_is_answered_once(user):
    user.say("hello")
    envelope = json.loads(user.event_body("where am i with all this?"))
    del envelope["event_id"]
    body = json.dumps(envelope).encode()
    before = len(user.posts())
    assert user.post(body).status_code == 200
    assert user.post(body).status_code == 200  # replayed within the window: 200, and no second turn
    quiet_wait(lambda: len(user.posts()), before, settle=3)
    assert sum("steps done" in post["text"] for post in user.posts()) == 1


def test_a_timestamp_ahead_of_the_clock_is_refused_beyond_a_small_skew(user):
    assert user.post(user.event_body("hi"), timestamp=int(time.time()) + 290).status_code == 401
    assert "not a doctor" in reply_text(user.exchange(user.event_body("hi"), timestamp=int(time.time()) + 10))


def test_an_emergency_gets_the_emergency_numbers(user):
    user.say("hi")
    reply = user.say("I have crushing chest pain right now and can't breathe")
    assert "911" in reply and "only an assistant" in reply


def test_an_indirect_crisis_in_the_role_play_ends_it_with_the_crisis_line(user):
    user.say("hi")
    user.say("can I practise talking to my doctor?")
    user.press("Ask about a second opinion")
    message = next(post for post in reversed(user.posts()) if post.get("blocks"))
    assert "🩺 Doctor:" in user.press(message["blocks"][1]["elements"][0]["text"]["text"])
    reply = user.say("an hour ago I took a lot more of my pills than I'm supposed to")
    assert "911" in reply and "🩺 Doctor:" not in reply and "💬 Coach:" not in reply


def test_rehearsal_buttons_work_through_block_kit(user):
    user.say("hi")
    user.say("can I practise talking to my doctor?")
    user.press("Ask about a second opinion")
    message = next(post for post in reversed(user.posts()) if post.get("blocks"))
    assert "🩺 Doctor:" in user.press(message["blocks"][1]["elements"][0]["text"]["text"])


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b"{not json", "application/json", 400),
        (b"\x00\xff\xfe binary", "application/octet-stream", 400),
        (b"[1, 2, 3]", "application/json; charset=utf-8", 400),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded", 400),
        (b'{"type": "event_callback"}', "application/json", 200),  # no event: nothing to do
        (b'{"type": "block_actions", "actions": [{}]}', "application/json", 200),
    ],
)
def test_bad_bodies_get_a_4xx_or_a_quiet_200_never_a_crash(user, body, content_type, status):
    assert user.post(body, content_type=content_type).status_code == status


def test_a_huge_message_is_answered_without_a_crash(user):
    assert user.say("i doubt my diagnosis " * 5000) == too_long_text()
    assert "five steps" in user.say("what can you do?")


def test_delete_my_data_deletes_the_bots_messages_in_the_dm_and_says_the_persons_own_stay(user, api):
    user.say("hi")
    parent = f"{time.time():.6f}"
    user.say("Dr Hallworth says I have sarcoidosis and I doubt that diagnosis", ts=parent)
    user.say("where am i with all this?", thread_ts=parent)  # answered in the thread
    assert "Shall I delete everything?" in user.say("delete my data")
    before = api.messages_in(user.channel)
    bots = {message["ts"] for message in before if message.get("bot_id")}
    persons = {message["ts"] for message in before if not message.get("bot_id")}
    assert any(message.get("thread_ts") == parent for message in before if message.get("bot_id"))
    assert len(bots) > api.page_size  # the history comes in more than one page

    closing = user.press("Yes, delete everything")
    assert "deleted your journey progress" in closing
    assert "I can't delete yours" in closing and "Delete message" in closing

    after = api.messages_in(user.channel)
    assert not bots & {message["ts"] for message in after}  # every message of the bot is gone, threads too
    assert persons <= {message["ts"] for message in after}  # the person's own are theirs to delete
    assert [message["text"] for message in after if message.get("bot_id")] == closing.split("\n")
    deletions = api.calls_to("chat.delete", lambda call: call.json["channel"] == user.channel)
    assert {call.json["ts"] for call in deletions} == bots  # never an attempt on the person's messages


async def test_the_bots_messages_are_deleted_only_in_a_direct_message():
    output = SlackOutput(api=None, channel="C0PUBLIC", thread_ts="1.0")  # a mention's thread in a channel
    await output.send_custom_json("slack-T-U", {"data": {"type": "erase_client"}})
    assert output.erasure_note is None  # the bot's messages there answer other people too


def test_the_telegram_webhook_is_off_without_its_variables_and_rest_still_works(bot):
    assert requests.post(f"{bot.url}/webhooks/telegram/webhook", json={}, timeout=10).status_code == 404
    assert "not a doctor" in reply_text(bot.say("rest-user-slack-module", "hi"))


def test_what_is_kept_comes_as_a_file_in_the_dm(user, api, bot):
    user.say("My cardiologist wants to operate next month")
    SlackUser(bot, api).say("my neighbour's diagnosis")  # another person: never in this copy
    answer = user.say("/request_my_data")
    assert "Our conversation: the 2 messages you wrote me" in answer and "{" not in answer
    (done,) = api.wait_for("files.completeUploadExternal", lambda call: call.json.get("channel_id") == user.channel)
    assert done.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    [shared] = json.loads(done.json["files"])
    length = str(api.lengths[shared["id"]])
    asked = api.calls_to("files.getUploadURLExternal", lambda call: call.json["length"] == length)
    assert asked and asked[0].json["filename"].startswith("secondlook-my-data-")
    assert asked[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
    document = json.loads(api.uploaded[shared["id"]])
    said = [message["text"] for message in document["conversation"]["messages"] if message["from"] == "you"]
    assert said == ["My cardiologist wants to operate next month"]  # stored before this turn
    assert "neighbour" not in json.dumps(document) and user.user_id not in json.dumps(document)

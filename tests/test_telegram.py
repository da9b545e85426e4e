"""The Telegram channel: fast unit tests of its pieces, then the real Rasa and action servers with the
channel pointed at a Bot API stand-in on 127.0.0.1 that records every call (one server per module)."""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any

import pytest
import requests

from channels import common
from channels.common import SeenIds, buttons_as_text, locale_metadata, setting, split_text
from channels.guard import too_long_text
from channels.telegram import (
    MAX_CALLBACK_DATA_BYTES,
    SECRET_HEADER,
    PayloadBook,
    TelegramInput,
    TelegramOutput,
    derived_secret,
)
from secondlook.devtools.servers import BotProcesses, reply_text
from secondlook.progress_store import ProgressStore
from tests.standins import CHANNEL_CREDENTIALS, CHANNEL_VARIABLES, TelegramStandIn, quiet_wait

TOKEN = "123456:TEST-token_abc"
SECRET = "test-secret_0123456789"
USERNAME = "SecondLookTestBot"
WEBHOOK_URL = "https://bot.example.test/webhooks/telegram/webhook"
LONG_PAYLOAD = '/start_rehearsal{"rehearsal_scenario":"ask_opinion","rehearsal_temperament":"defensive"}'

# --- unit tests --------------------------------------------------------------------------------------


def test_split_text_keeps_pieces_under_the_limit_and_cuts_at_paragraphs():
    paragraphs = [("word " * 150).strip() for _ in range(8)]  # 8 x 749 characters
    pieces = split_text("\n\n".join(paragraphs), 4096)
    assert all(len(piece) <= 4096 for piece in pieces) and len(pieces) == 2
    assert pieces[0].endswith("word") and not pieces[1].startswith("\n")
    assert " ".join(pieces).split() == " ".join(paragraphs).split()  # nothing lost


def test_split_text_cuts_inside_a_word_only_when_there_is_no_space():
    assert split_text("x" * 10_000, 4096) == ["x" * 4096, "x" * 4096, "x" * 1808]
    assert split_text("short", 4096) == ["short"]
    assert split_text("   ", 4096) == []


def test_long_payloads_become_tokens_within_64_bytes_and_back():
    book = PayloadBook()
    assert book.callback_data("/next_step") == "/next_step"
    token = book.callback_data(LONG_PAYLOAD)
    assert len(token.encode()) <= MAX_CALLBACK_DATA_BYTES and token != LONG_PAYLOAD
    assert book.payload(token) == LONG_PAYLOAD
    assert book.payload("~unknown") is None


def test_the_keyboard_respects_telegram_limits():
    output = TelegramOutput(api=None, payloads=PayloadBook(), chat_id=1)
    keyboard = output.keyboard([{"title": "Defensive", "payload": LONG_PAYLOAD}, {"title": "Next", "payload": "/n"}])
    rows = keyboard["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == ["Defensive", "Next"]
    assert all(len(row[0]["callback_data"].encode()) <= MAX_CALLBACK_DATA_BYTES for row in rows)
    assert output.keyboard([{"title": str(n), "payload": f"/{n}"} for n in range(101)]) is None
    assert "• Next" in buttons_as_text("Pick one", [{"title": "Next", "payload": "/n"}])


def test_a_repeated_update_id_is_seen_once_within_a_bounded_window():
    seen = SeenIds(size=2)
    assert seen.first_time("1") and not seen.first_time("1")
    assert seen.first_time("2") and seen.first_time("3")
    assert seen.first_time("1")  # forgotten once the window moved on: memory stays bounded


def test_only_configured_region_locales_are_passed():
    assert locale_metadata("en-GB") == {"locale": "en-GB"}
    assert locale_metadata("en-us") == {"locale": "en-US"}
    assert locale_metadata("en") == {} and locale_metadata("eu") == {} and locale_metadata(None) == {}


def test_settings_come_from_quoted_references_bare_entries_or_nothing(monkeypatch):
    monkeypatch.setenv("TELEGRAM_ACCESS_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN", raising=False)
    assert setting({"access_token": "${TELEGRAM_ACCESS_TOKEN}"}, "access_token", "X") == TOKEN
    assert setting(None, "access_token", "TELEGRAM_ACCESS_TOKEN") == TOKEN
    assert setting({"secret_token": "${TELEGRAM_SECRET_TOKEN}"}, "secret_token", "X") is None
    assert setting({}, "api_base_url", "UNSET_VARIABLE_X", "https://api.telegram.org") == "https://api.telegram.org"


def test_without_a_token_the_channel_is_off_and_with_one_it_is_on(monkeypatch):
    for name in CHANNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not TelegramInput.from_credentials(None).enabled
    monkeypatch.setenv("TELEGRAM_ACCESS_TOKEN", TOKEN)
    channel = TelegramInput.from_credentials(None)
    assert channel.enabled and channel.secret_token == derived_secret(TOKEN)
    assert channel.api.base == f"https://api.telegram.org/bot{TOKEN}"
    monkeypatch.setenv("TELEGRAM_ACCESS_TOKEN", "not-a-token")
    with pytest.raises(Exception, match="bot token"):
        TelegramInput.from_credentials(None)


def test_updates_are_parsed_into_turns_or_ignored():
    channel = TelegramInput(TOKEN, verify=USERNAME)
    chat = {"id": 7, "type": "private"}
    start = channel.parse({"update_id": 1, "message": {"chat": chat, "text": f"/start@{USERNAME}"}})
    assert start.text == "/greet"
    assert channel.parse({"update_id": 2, "message": {"chat": chat, "text": "/help@SecondLookTestBot"}}).text == "/help"
    assert channel.parse({"update_id": 3, "message": {"chat": chat, "photo": [{}]}}).note == "text_only"
    assert channel.parse({"update_id": 4, "edited_message": {"chat": chat, "text": "x"}}) is None
    group = {"id": -5, "type": "group"}
    assert channel.parse({"update_id": 5, "message": {"chat": group, "text": "hi"}}) is None
    assert channel.parse({"update_id": 6, "my_chat_member": {"chat": chat}}) is None


def test_a_button_of_a_previous_process_falls_back_to_its_title():
    channel = TelegramInput(TOKEN)
    keyboard = {"inline_keyboard": [[{"text": "Defensive", "callback_data": "~0123"}]]}
    query = {"id": "q", "data": "~0123", "message": {"chat": {"id": 7, "type": "private"}, "reply_markup": keyboard}}
    turn = channel.parse({"update_id": 1, "callback_query": query})
    assert turn.text == "Defensive" and turn.callback_query_id == "q"


def test_machine_payloads_are_recognised():
    assert common.is_machine_payload({"data": {"type": "journey_progress"}})
    assert not common.is_machine_payload({"text": "hi"})


# --- the server without channel variables --------------------------------------------------------
@pytest.fixture
def offline_bot(tmp_path):
    """The servers with the channels' credentials.yml entries but none of their variables set (for one
    test, which runs before the module's `bot` starts, so the two never run at once)."""
    workdir = tmp_path
    credentials = workdir / "credentials.yml"
    credentials.write_text(CHANNEL_CREDENTIALS)
    with pytest.MonkeyPatch.context() as patch:
        for name in CHANNEL_VARIABLES:
            patch.delenv(name, raising=False)
        processes = BotProcesses(workdir, credentials=credentials)
    try:
        yield processes.start()
    finally:
        processes.stop()


def test_without_any_channel_variable_the_server_starts_serves_rest_and_the_webhooks_are_off(offline_bot):
    assert not any(name in offline_bot.env for name in CHANNEL_VARIABLES)
    assert "not a doctor" in reply_text(offline_bot.say("rest-user-offline", "hi"))
    for channel in ("telegram", "slack"):
        reply = requests.post(f"{offline_bot.url}/webhooks/{channel}/webhook", json={"update_id": 1}, timeout=10)
        assert reply.status_code == 404


# --- end to end ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api():
    stand_in = TelegramStandIn(TOKEN, USERNAME).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, api):
    workdir = tmp_path_factory.mktemp("telegram")
    credentials = workdir / "credentials.yml"
    credentials.write_text(CHANNEL_CREDENTIALS)
    env = {name: "" for name in CHANNEL_VARIABLES}  # Slack stays off
    env.update(
        TELEGRAM_ACCESS_TOKEN=TOKEN,
        TELEGRAM_VERIFY=USERNAME,
        TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,
        TELEGRAM_API_BASE_URL=api.url,
        TELEGRAM_SECRET_TOKEN=SECRET,
    )
    processes = BotProcesses(workdir, env=env, credentials=credentials)
    try:
        yield processes.start()
    finally:
        processes.stop()


_update_ids = itertools.count(random.randrange(10**6, 10**8))


class TelegramUser:
    """A private chat with the bot, driven through the webhook as Telegram would."""

    def __init__(self, bot: BotProcesses, api: TelegramStandIn, language_code: str = "en") -> None:
        self.bot, self.api = bot, api
        self.chat_id = random.randrange(10**8, 10**10)
        self.language_code = language_code

    @property
    def url(self) -> str:
        return f"{self.bot.url}/webhooks/telegram/webhook"

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> requests.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return requests.post(self.url, json=update, headers=headers, timeout=10)

    def message_update(self, text: str) -> dict[str, Any]:
        update_id = next(_update_ids)
        sender = {"id": self.chat_id, "is_bot": False, "first_name": "Test", "language_code": self.language_code}
        message = {"message_id": update_id, "date": int(time.time()), "chat": self.chat, "from": sender, "text": text}
        self.api.user_sent(self.chat_id, update_id, message["date"])  # the message is in the chat
        return {"update_id": update_id, "message": message}

    @property
    def chat(self) -> dict[str, Any]:
        return {"id": self.chat_id, "type": "private", "first_name": "Test"}

    def replies(self) -> list[dict[str, Any]]:
        return [call.json for call in self.api.calls_to("sendMessage", lambda c: c.json["chat_id"] == self.chat_id)]

    def exchange(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Posts an update, checks the 200, and returns the replies it brought."""
        before = len(self.replies())
        assert self.post(update).status_code == 200
        quiet_wait(lambda: len(self.replies()), before)
        return self.replies()[before:]

    def say(self, text: str) -> str:
        return "\n".join(reply["text"] for reply in self.exchange(self.message_update(text)))

    def press(self, title: str) -> str:
        """Presses the button `title` of the latest keyboard, as Telegram reports it."""
        keyboard_message = next(reply for reply in reversed(self.replies()) if reply.get("reply_markup"))
        keyboard = keyboard_message["reply_markup"]
        button = next(row[0] for row in keyboard["inline_keyboard"] if row[0]["text"] == title)
        update_id = next(_update_ids)
        query = {
            "id": f"cq-{update_id}",
            "from": {"id": self.chat_id, "is_bot": False, "first_name": "Test"},
            "message": {"message_id": 1, "chat": self.chat, "text": keyboard_message["text"], "reply_markup": keyboard},
            "chat_instance": "1",
            "data": button["callback_data"],
        }
        replies = self.exchange({"update_id": update_id, "callback_query": query})
        self.api.wait_for("answerCallbackQuery", lambda call: call.json["callback_query_id"] == query["id"])
        return "\n".join(reply["text"] for reply in replies)


@pytest.fixture
def user(bot, api) -> TelegramUser:
    return TelegramUser(bot, api)


def test_the_webhook_is_registered_with_the_secret_after_start(bot, api):
    (call,) = api.wait_for("setWebhook")
    assert call.json["url"] == WEBHOOK_URL and call.json["secret_token"] == SECRET
    assert call.path == f"/bot{TOKEN}/setWebhook"


def test_a_genuine_message_is_answered_with_the_disclaimer_then_the_privacy_note_once(user):
    first = user.exchange(user.message_update("hi"))
    assert "not a doctor" in first[0]["text"] and "911" in reply_text(first)
    assert "end-to-end encrypted" in first[-1]["text"]  # after the bot's replies, not before
    second = user.say("what can you do?")
    assert "five steps" in second and "end-to-end encrypted" not in second


def test_start_greets_with_the_disclaimer(user):
    assert "not a doctor" in user.say("/start")


def test_a_forged_or_missing_secret_is_refused_and_unanswered(user):
    assert user.post(user.message_update("hi"), secret="wrong").status_code == 403
    assert user.post(user.message_update("hi"), secret=None).status_code == 403
    time.sleep(3)
    assert user.replies() == []


def test_non_message_updates_get_200_and_nothing_else(user, api):
    member = {"chat": user.chat, "from": {"id": 1}, "date": 0, "old_chat_member": {}, "new_chat_member": {}}
    edited = user.message_update("I doubt my diagnosis")
    edited["edited_message"] = edited.pop("message")
    assert user.post({"update_id": next(_update_ids), "my_chat_member": member}).status_code == 200
    assert user.post(edited).status_code == 200
    assert user.post({"update_id": next(_update_ids)}).status_code == 200
    time.sleep(3)
    assert user.replies() == []
    assert len(api.calls_to("getMe")) <= 1  # at most the one check at start, never per update


def test_a_duplicate_update_is_answered_once(user):
    user.say("hello")
    update = user.message_update("where am i with all this?")
    before = len(user.replies())
    assert user.post(update).status_code == 200
    assert user.post(update).status_code == 200  # Telegram re-delivering the same update
    quiet_wait(lambda: len(user.replies()), before, settle=3)
    assert sum("steps done" in reply["text"] for reply in user.replies()) == 1


def test_a_journey_step_and_its_buttons(user, api):
    user.say("hi")
    assert "Step 1 of 5" in user.say("i dont think my doctor got my diagnosis right")
    assert "ticked off step 1" in user.press("I've done this step")
    assert "Step 2 of 5" in user.say("what's next?")
    sent = " ".join(reply["text"] for reply in user.replies())
    assert "journey_progress" not in sent and '{"data"' not in sent  # the machine payloads stay off Telegram


def test_long_button_payloads_fit_64_bytes_and_still_work(user):
    user.say("hi")
    user.say("can I practise talking to my doctor?")
    user.press(next(iter(_titles(user))))
    titles = _titles(user)
    data = [row[0]["callback_data"] for row in user.replies()[-1]["reply_markup"]["inline_keyboard"]]
    assert all(len(item.encode()) <= MAX_CALLBACK_DATA_BYTES for item in data)
    assert any(item.startswith("~") for item in data)  # these payloads are longer than 64 bytes
    assert "🩺 Doctor:" in user.press(titles[0])


def _titles(user: TelegramUser) -> list[str]:
    keyboard = next(reply for reply in reversed(user.replies()) if reply.get("reply_markup"))["reply_markup"]
    return [row[0]["text"] for row in keyboard["inline_keyboard"]]


def test_an_emergency_gets_the_numbers_and_the_users_region_is_honoured(bot, api):
    user = TelegramUser(bot, api)
    user.say("hi")
    reply = user.say("I have crushing chest pain right now and can't breathe")
    assert "911" in reply and "only an assistant" in reply
    british = TelegramUser(bot, api, language_code="en-GB")
    british.say("hi")
    assert "999" in british.say("my chest is crushing and my left arm is numb")


def test_delete_my_data_deletes_the_chat_messages_telegram_allows_and_says_what_remains(bot, user, api):
    old_message = 10**9  # outside the ids the stand-in and the updates hand out
    api.user_sent(user.chat_id, old_message, int(time.time()) - 3 * 86400)  # too old for a bot to delete
    user.say("hi")
    user.say("Dr Hallworth says I have sarcoidosis and I doubt that diagnosis")
    assert "Shall I delete everything?" in user.say("delete my data")
    conversation = [message_id for message_id in api.messages_in(user.chat_id) if message_id != old_message]
    assert len(conversation) >= 6  # the user's three messages and the bot's replies

    closing = user.say("yes")
    assert "deleted your journey progress" in closing
    assert "last 48 hours" in closing and "Delete chat" in closing and "screenshots" in closing

    remaining = api.messages_in(user.chat_id)
    assert not set(conversation) & set(remaining)  # every message of the conversation, and the "yes", is gone
    assert old_message in remaining and len(remaining) == 3  # the old one, and the two closing messages
    deletions = api.calls_to("deleteMessages", lambda call: call.json["chat_id"] == user.chat_id)
    assert deletions and all(len(call.json["message_ids"]) <= 100 for call in deletions)
    store = ProgressStore(bot.env["DATABASE_URL"])
    assert store.telegram_messages(f"telegram-{user.chat_id}") == []  # nothing kept after the erasure
    store.engine.dispose()


def test_the_stand_in_deletes_only_what_telegram_allows(api):
    chat_id = random.randrange(10**8, 10**10)
    api.user_sent(chat_id, 1, int(time.time()))
    api.user_sent(chat_id, 2, int(time.time()) - 49 * 3600)
    path = f"{api.url}/bot{TOKEN}"
    assert requests.post(f"{path}/deleteMessage", json={"chat_id": chat_id, "message_id": 1}, timeout=5).json()["ok"]
    too_old = requests.post(f"{path}/deleteMessage", json={"chat_id": chat_id, "message_id": 2}, timeout=5).json()
    assert too_old["description"] == "Bad Request: message can't be deleted"
    gone = requests.post(f"{path}/deleteMessage", json={"chat_id": chat_id, "message_id": 1}, timeout=5).json()
    assert gone["description"] == "Bad Request: message to delete not found"
    assert api.messages_in(chat_id) == [2]


def test_an_indirect_crisis_in_the_role_play_ends_it_with_the_regions_crisis_line(bot, api):
    british = TelegramUser(bot, api, language_code="en-GB")
    british.say("hi")
    british.say("can I practise talking to my doctor?")
    british.press(next(iter(_titles(british))))
    assert "🩺 Doctor:" in british.press(_titles(british)[0])
    reply = british.say("I've been putting my tablets aside in case the results are bad")
    assert "116 123" in reply and "🩺 Doctor:" not in reply and "988" not in reply


def test_photos_get_the_text_only_note_and_no_turn(user):
    update = user.message_update("")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]
    (reply,) = user.exchange(update)
    assert "only read text" in reply["text"]


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"{not json", "application/json"),
        (b"\x00\xff\xfe binary", "application/octet-stream"),
        (b"[1, 2, 3]", "application/json"),
        (b'{"message": {"text": "no update id"}}', "application/json"),
    ],
)
def test_bad_bodies_get_a_4xx_and_never_a_crash(bot, body, content_type):
    url = f"{bot.url}/webhooks/telegram/webhook"
    reply = requests.post(url, data=body, headers={SECRET_HEADER: SECRET, "Content-Type": content_type}, timeout=10)
    assert 400 <= reply.status_code < 500


def test_a_huge_message_is_answered_without_a_crash(user):
    assert user.say("i doubt my diagnosis " * 5000) == too_long_text()  # Telegram itself caps at 4096
    assert "five steps" in user.say("what can you do?")  # and the conversation goes on


def test_the_slack_webhook_is_off_without_its_variables_and_rest_still_works(bot):
    assert requests.post(f"{bot.url}/webhooks/slack/webhook", json={}, timeout=10).status_code == 404
    assert "not a doctor" in reply_text(bot.say("rest-user-telegram-module", "hi"))


def test_what_is_kept_comes_as_a_file_of_this_chat_only(user, api, bot):
    user.say("My oncologist says it is stage 2 lymphoma")
    TelegramUser(bot, api).say("my neighbour's diagnosis")  # another chat: never in this copy
    answer = user.say("/request_my_data")
    assert "Our conversation: the 2 messages you wrote me" in answer and "{" not in answer
    assert "open the file I'm sending now" in answer
    (call,) = api.wait_for("sendDocument", lambda call: call.json.get("chat_id") == str(user.chat_id))
    assert call.headers["content-type"].startswith("multipart/form-data")
    name, content = call.files["document"]
    assert name.startswith("secondlook-my-data-") and name.endswith(".json")
    document = json.loads(content)
    said = [message["text"] for message in document["conversation"]["messages"] if message["from"] == "you"]
    assert said == ["My oncologist says it is stage 2 lymphoma"]  # stored before this turn
    assert "neighbour" not in content.decode() and str(user.chat_id) not in content.decode()

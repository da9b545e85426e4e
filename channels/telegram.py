"""Telegram channel: `POST /webhooks/telegram/webhook`, speaking the Bot API directly over aiohttp.

Written instead of Rasa's stock connector, which needs the network while the app is built (so an
offline start aborts), answers 500 to every update under Sanic's loop, calls getMe on every update,
never checks the webhook secret, crashes on updates without a message, and ignores the 64-byte limit
of button data. Here:

- configured from credentials.yml or the environment (TELEGRAM_*); without an access token the
  channel is off: the server starts and the webhook answers 404;
- setWebhook (with `secret_token`) runs after the server has started, in the background; a failure
  is logged and does not stop the server;
- every update must carry `X-Telegram-Bot-Api-Secret-Token` (else 403, nothing processed); an
  `update_id` is processed once; updates other than text messages and button presses get 200;
- the turn runs after the 200; replies are plain text (no parse mode: nothing to escape), split at
  Telegram's 4096 characters, buttons as an inline keyboard whose data fits in 64 bytes;
- only private chats are served: a group would share one person's health questions with everyone;
- when "delete my data" is done, the bot deletes the chat's messages it still may (its own and the
  user's, for 48 hours: Telegram's rule), and says what it could not delete. For that it keeps each
  message's id for those 48 hours in the progress database (a hashed id, the message id and its time:
  it survives a restart and is shared by replicas).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import aiohttp
from rasa.shared.exceptions import RasaException
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from channels.common import (
    LazyHttpClient,
    TextOnlyOutput,
    buttons_as_text,
    is_erasure,
    locale_metadata,
    split_text,
)
from channels.webhook_base import OnNewMessage, WebhookInput, WebhookTurn
from secondlook.progress_store import get_store

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one message's text
MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit for a button's callback_data
MAX_BUTTONS = 100  # Telegram's limit for an inline keyboard
MAX_DELETE_IDS = 100  # Telegram's limit for one deleteMessages call
TOKEN_PREFIX = "~"  # marks a callback_data that stands for a longer payload (payloads start with "/")
_TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token
_COMMAND = re.compile(r"^/(\w+)(?:@\w+)?(?:\s.*)?$", re.DOTALL)


class PayloadBook:
    """Long button payloads behind short callback_data tokens (a hash of the payload).

    In memory and bounded: after a restart an old button's token is unknown, and the press falls back
    to the button's title, which the NLU understands like typed text."""

    def __init__(self, size: int = 5_000) -> None:
        self.size = size
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_DATA_BYTES and not payload.startswith(TOKEN_PREFIX):
            return payload
        token = TOKEN_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:24]
        self._payloads[token] = payload
        self._payloads.move_to_end(token)
        if len(self._payloads) > self.size:
            self._payloads.popitem(last=False)
        return token

    def payload(self, callback_data: str) -> str | None:
        """The payload a button stands for; None for an unknown token."""
        if not callback_data.startswith(TOKEN_PREFIX):
            return callback_data
        return self._payloads.get(callback_data)


class BotApi(LazyHttpClient):
    """The few Bot API methods used, over one aiohttp session created in the server's loop."""

    def __init__(self, api_base_url: str, access_token: str) -> None:
        self.base = f"{api_base_url.rstrip('/')}/bot{access_token}"
        super().__init__()

    async def call(self, method: str, **params: Any) -> Any:
        """Calls a method; returns its result, or None when it failed (logged, not raised)."""
        for _attempt in range(2):
            answer = await self._post_json(f"{self.base}/{method}", f"Telegram {method}", json=params)
            if answer is None:
                return None
            status, body, _headers = answer
            if body.get("ok"):
                return body.get("result")
            retry_after = (body.get("parameters") or {}).get("retry_after")
            if status != 429 or not isinstance(retry_after, int) or retry_after > 5:
                break
            await asyncio.sleep(retry_after)  # flood control: wait as told, once
        logger.error("Telegram %s failed: %s %s", method, status, body.get("description"))
        return None

    async def send_document(self, chat_id: int, filename: str, content: bytes, caption: str) -> bool:
        """sendDocument: a new file goes as multipart/form-data (the Bot API takes no JSON for it)."""
        form = aiohttp.FormData()
        form.add_field("chat_id", str(chat_id))
        form.add_field("caption", caption)
        form.add_field("document", content, filename=filename, content_type="application/json")
        answer = await self._post_json(f"{self.base}/sendDocument", "Telegram sendDocument", data=form)
        if answer is not None and not answer[1].get("ok"):
            logger.error("Telegram sendDocument failed: %s", answer[1].get("description"))
        return answer is not None and bool(answer[1].get("ok"))


class ChatLog:
    """The ids of each chat's recent messages, in the progress database, for as long as Telegram lets a
    bot delete them. A failing database costs the deletion, never a reply (logged without ids)."""

    def remember(self, sender_id: str, message: Any) -> None:
        """Keeps the id of a message as Telegram describes it (a sent message's result, or an update's)."""
        if not isinstance(message, dict):
            return
        message_id, date = message.get("message_id"), message.get("date")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            return
        sent_at = datetime.fromtimestamp(date, timezone.utc) if isinstance(date, int) else datetime.now(timezone.utc)
        self._safely(lambda store: store.record_telegram_message(sender_id, message_id, sent_at), None)

    def recent(self, sender_id: str) -> list[int] | None:
        """The ids that may still be deleted; None when the database can't be read."""
        return self._safely(lambda store: store.telegram_messages(sender_id), None)

    def forget(self, sender_id: str) -> None:
        self._safely(lambda store: store.forget_telegram_messages(sender_id), None)

    @staticmethod
    def _safely(call: Callable[[Any], Any], fallback: Any) -> Any:
        try:
            return call(get_store())
        except SQLAlchemyError as error:
            logger.error("Telegram: the chat's message ids are unavailable: %s", error.__class__.__name__)
            return fallback


class TelegramOutput(TextOnlyOutput):
    """Sends the bot's replies to one Telegram chat, keeping their ids, and deletes the chat on erasure."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, api: BotApi, payloads: PayloadBook, chat_id: int, chat_log: ChatLog | None = None) -> None:
        self.api = api
        self.payloads = payloads
        self.chat_id = chat_id
        self.chat_log = chat_log
        self.erasure_note: str | None = None  # set by an erasure: the note that says what was deleted

    async def _send(self, recipient_id: str, method: str = "sendMessage", **params: Any) -> None:
        sent = await self.api.call(method, chat_id=self.chat_id, **params)
        if self.chat_log is not None and self.erasure_note is None:  # after an erasure, nothing is kept
            self.chat_log.remember(recipient_id, sent)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text, MAX_MESSAGE_CHARS):
            await self._send(recipient_id, text=piece)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        keyboard = self.keyboard(buttons)
        if keyboard is None:
            await self.send_text_message(recipient_id, buttons_as_text(text, buttons))
            return
        *before, last = split_text(text, MAX_MESSAGE_CHARS) or [" "]
        for piece in before:
            await self._send(recipient_id, text=piece)
        await self._send(recipient_id, text=last, reply_markup=keyboard)

    def keyboard(self, buttons: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One button per row (the titles are short sentences); None past Telegram's limits."""
        usable = [button for button in buttons if button.get("title") and button.get("payload")]
        if not usable or len(usable) > MAX_BUTTONS:
            return None
        rows = [
            [{"text": str(button["title"]), "callback_data": self.payloads.callback_data(str(button["payload"]))}]
            for button in usable
        ]
        return {"inline_keyboard": rows}

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(recipient_id, "sendPhoto", photo=image)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_erasure(json_message):
            self.erasure_note = await self.delete_chat(recipient_id)
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)

    async def delete_chat(self, recipient_id: str) -> str:
        """Deletes the chat's messages that Telegram still lets a bot delete (its own and, in a private
        chat, the user's, up to 48 hours old); returns the key of the note that says what happened."""
        ids = self.chat_log.recent(recipient_id) if self.chat_log is not None else None
        if ids is None:
            return "chat_not_deleted"
        batches = [ids[start : start + MAX_DELETE_IDS] for start in range(0, len(ids), MAX_DELETE_IDS)]
        deleted = [await self.api.call("deleteMessages", chat_id=self.chat_id, message_ids=batch) for batch in batches]
        self.chat_log.forget(recipient_id)
        return "chat_deleted" if all(deleted) else "chat_not_deleted"

    async def send_file(self, recipient_id: str, filename: str, content: bytes, caption: str) -> bool:
        return await self.api.send_document(self.chat_id, filename, content, caption)


class TelegramInput(WebhookInput):
    """The Telegram webhook; see the module docstring."""

    label = "Telegram"
    delivery = "update"

    settings = {
        "access_token": ("TELEGRAM_ACCESS_TOKEN", None),
        "verify": ("TELEGRAM_VERIFY", None),
        "webhook_url": ("TELEGRAM_WEBHOOK_URL", None),
        "api_base_url": ("TELEGRAM_API_BASE_URL", DEFAULT_API_BASE_URL),
        "secret_token": ("TELEGRAM_SECRET_TOKEN", None),
    }

    def __init__(
        self,
        access_token: str | None,
        verify: str | None = None,
        webhook_url: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        secret_token: str | None = None,
    ) -> None:
        self.access_token = access_token
        self.verify = (verify or "").lstrip("@") or None  # the bot's username
        self.webhook_url = webhook_url
        self.api_base_url = api_base_url
        self.secret_token = secret_token or (derived_secret(access_token) if access_token else None)
        self._check_configuration()
        self.api = BotApi(api_base_url, access_token) if access_token else None
        self.payloads = PayloadBook()
        self.chat_log = ChatLog()
        super().__init__()

    def _check_configuration(self) -> None:
        """A wrong value is a mistake to report at start, not a reason to run half-configured."""
        if not self.access_token:
            logger.info("Telegram channel off: no TELEGRAM_ACCESS_TOKEN")
            return
        if not _TOKEN_FORMAT.match(self.access_token):
            raise RasaException("TELEGRAM_ACCESS_TOKEN doesn't look like a bot token (123456:ABC...)")
        if not _SECRET_FORMAT.match(self.secret_token or ""):
            raise RasaException("TELEGRAM_SECRET_TOKEN may only hold A-Z, a-z, 0-9, _ and - (1-256 characters)")

    async def _after_start(self, app: Any, _loop: Any) -> None:
        # In the background: an unreachable Bot API (offline, tests) must not hold up the start.
        app.add_task(self.register_webhook())

    async def register_webhook(self) -> None:
        """setWebhook with the secret Telegram will send back on every update; only the update
        kinds the bot handles are asked for."""
        if not self.webhook_url:
            logger.info("Telegram: no TELEGRAM_WEBHOOK_URL, webhook not registered (set it yourself)")
            return
        registered = await self.api.call(
            "setWebhook",
            url=self.webhook_url,
            secret_token=self.secret_token,
            allowed_updates=["message", "callback_query"],
        )
        if registered:
            logger.info("Telegram webhook registered")
        else:
            logger.error("Telegram: setWebhook failed; no update arrives until it succeeds (restart to retry)")
        await self._check_username()

    async def _check_username(self) -> None:
        """One getMe at start (never per update) to catch a token of the wrong bot."""
        if not self.verify:
            return
        me = await self.api.call("getMe") or {}
        if me.get("username") and me["username"] != self.verify:
            logger.error("Telegram: the token belongs to @%s, not @%s (TELEGRAM_VERIFY)", me["username"], self.verify)

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Checks, de-duplicates and queues one update; always answers quickly."""
        sent_secret = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(sent_secret.encode(), self.secret_token.encode()):
            logger.warning("Telegram: update with a missing or wrong secret token refused")
            return response.json({"error": "forbidden"}, status=403)
        update = _json_object(request.body)
        if update is None:
            return response.json({"error": "the body must be a JSON object"}, status=400)
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return response.json({"error": "update_id missing"}, status=400)
        if not self.seen.first_time(str(update_id)):
            return response.json({"ok": True, "duplicate": True})
        turn = self.parse(update)
        if turn is not None:
            self._queue(request.app, turn, on_new_message)
        return response.json({"ok": True})

    def parse(self, update: dict[str, Any]) -> Turn | None:
        """The turn an update asks for, or None for updates the bot ignores (edits, groups,
        memberships, ...)."""
        if isinstance(update.get("callback_query"), dict):
            return self._button_turn(update["callback_query"])
        message = update.get("message")
        if not isinstance(message, dict) or not _is_private(message.get("chat")):
            return None
        user = message.get("from") if isinstance(message.get("from"), dict) else {}
        chat_id = message["chat"]["id"]
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            return Turn(chat_id, None, user.get("language_code"), note="text_only", message=message)
        return Turn(chat_id, self._command(text[:MAX_MESSAGE_CHARS]), user.get("language_code"), message=message)

    def _button_turn(self, query: dict[str, Any]) -> Turn | None:
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        if not _is_private(message.get("chat")) or not isinstance(query.get("data"), str):
            return None
        user = query.get("from") if isinstance(query.get("from"), dict) else {}
        text = self.payloads.payload(query["data"]) or _button_title(message, query["data"])
        return Turn(message["chat"]["id"], text, user.get("language_code"), callback_query_id=query.get("id"))

    def _command(self, text: str) -> str:
        """Telegram's commands: /start (sent when someone opens the bot) greets, with the disclaimer
        the first turn brings; "/cmd@ThisBot" is "/cmd"."""
        match = _COMMAND.match(text.strip())
        if not match:
            return text
        if match.group(1) == "start":
            return "/greet"
        return "/" + match.group(1) if "@" in text.split()[0] else text

    def output_for(self, turn: Turn) -> TelegramOutput:
        return TelegramOutput(self.api, self.payloads, turn.chat_id, self.chat_log)

    def on_queued(self, app: Any, turn: Turn) -> None:
        if turn.callback_query_id:  # stops the client's spinner now, not after the sender's earlier turns
            app.add_task(self.api.call("answerCallbackQuery", callback_query_id=turn.callback_query_id))

    def before_turn(self, turn: Turn) -> None:
        self.chat_log.remember(turn.sender_id, turn.message)

    def metadata(self, turn: Turn) -> dict[str, Any] | None:
        return locale_metadata(turn.language_code) or None


@dataclass
class Turn(WebhookTurn):
    """What one update asks the bot to do."""

    chat_id: int
    text: str | None
    language_code: Any = None
    callback_query_id: str | None = None
    note: str | None = None
    message: dict[str, Any] | None = None  # the user's message, whose id is kept for an erasure (None for a button)

    @property
    def sender_id(self) -> str:
        return f"telegram-{self.chat_id}"


def derived_secret(access_token: str) -> str:
    """The webhook secret when none is configured: a key derived from the bot token, the same on
    every replica, which only the holder of the token can know."""
    return hmac.new(access_token.encode(), b"secondlook-telegram-webhook", hashlib.sha256).hexdigest()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _is_private(chat: Any) -> bool:
    return isinstance(chat, dict) and chat.get("type") == "private" and isinstance(chat.get("id"), int)


def _button_title(message: dict[str, Any], callback_data: str) -> str | None:
    """The title of the pressed button, read from the message's keyboard: the fallback for a token
    this process doesn't know (issued before a restart)."""
    markup = message.get("reply_markup")
    keyboard = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in keyboard if isinstance(keyboard, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == callback_data:
                return str(button.get("text") or "") or None
    return None

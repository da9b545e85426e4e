"""Slack channel: Events API and interactivity at `POST /webhooks/slack/webhook`, replies through
`chat.postMessage` over aiohttp.

Written instead of Rasa's stock connector, whose client has a fixed API URL, posts with `as_user`
(newer tokens refuse it), drops `application/json; charset=utf-8`, and processes most retries again.
Here:

- configured from credentials.yml or the environment (SLACK_*); without a bot token and signing
  secret the channel is off: the server starts and the webhook answers 404;
- every request must carry a valid `X-Slack-Signature` over a timestamp at most 5 minutes old and at
  most 30 s ahead of our clock (else 401, nothing processed); each delivery is processed once, so
  Slack's retries and replayed requests get their 200 without a second answer: keyed by its
  `event_id` (a button press's `trigger_id`), else by the event's team, channel, user, ts and type;
- direct messages are answered, in the thread they were written in. Outside a DM (a mention or a
  button in a channel) everyone in the channel reads along, so the only answer is an invitation to a
  DM, in a thread under the mention: no turn runs and nothing is stored (Telegram ignores groups for
  the same reason);
- the turn runs after the 200 (Slack wants it within 3 s); replies are escaped mrkdwn split at 3000
  characters, buttons as Block Kit, written out as text when past Block Kit's limits;
- when "delete my data" is done in a direct message, the bot deletes its own messages there (read from
  the conversation's history, so nothing is stored for it) and says that the person's own messages
  only they can delete: Slack lets no app delete them.
- the copy of a user's data ("what do you keep about me?") is shared as a file in the conversation
  (files.getUploadURLExternal, then files.completeUploadExternal).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import (
    LazyHttpClient,
    TextOnlyOutput,
    buttons_as_text,
    is_erasure,
    split_text,
)
from channels.guard import MAX_MESSAGE_CHARS
from channels.webhook_base import OnNewMessage, WebhookInput, WebhookTurn
from secondlook.locale import current_locale

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
MAX_AGE_SECONDS = 300  # Slack's advice: refuse older requests, they may be replayed
# A clock a little ahead is tolerated; a timestamp far ahead would keep a captured request replayable
# for longer than the 5 minutes.
MAX_FUTURE_SECONDS = 30
MAX_TEXT_CHARS = 3000  # a section block's text limit; also keeps plain messages readable
# What is read of a message: well over what a turn takes (channels/guard.py), so an over-long message
# is still over-long after trimming and answered as such, while Slack's far larger ones are never held.
MAX_INPUT_CHARS = 2 * MAX_MESSAGE_CHARS
MAX_BUTTONS = 25  # elements in one actions block
MAX_BUTTON_TITLE = 75  # a button's plain_text
MAX_BUTTON_VALUE = 2000  # a button's value
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
HISTORY_PAGE = 200  # messages per conversations.history / conversations.replies call
MAX_HISTORY_PAGES = 50  # 10,000 messages: far more than a conversation with the bot holds
MAX_RETRY_WAIT = 60  # seconds: a rate-limited call waits as told, up to this, then gives up


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: v0= HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def verify_request(signing_secret: str, timestamp: str, sent: str, body: bytes, now: float | None = None) -> str | None:
    """Why a request is refused (None when it is genuine and fresh)."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return "no timestamp"
    if age > MAX_AGE_SECONDS:
        return "stale timestamp"
    if age < -MAX_FUTURE_SECONDS:
        return "future timestamp"
    if not hmac.compare_digest(signature(signing_secret, timestamp, body).encode(), sent.encode()):
        return "bad signature"
    return None


def escape(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions): send them as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def button_blocks(text: str, buttons: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """A section and an actions block; None when the buttons don't fit Block Kit's limits."""
    usable = [button for button in buttons if button.get("title") and button.get("payload")]
    fits = (
        0 < len(usable) <= MAX_BUTTONS
        and all(len(str(button["title"])) <= MAX_BUTTON_TITLE for button in usable)
        and all(len(str(button["payload"])) <= MAX_BUTTON_VALUE for button in usable)
    )
    if not fits:
        return None
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": str(button["title"]), "emoji": True},
            "value": str(button["payload"]),
            "action_id": f"secondlook_button_{index}",  # must be unique within the block
        }
        for index, button in enumerate(usable)
    ]
    section = {"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}
    return [section, {"type": "actions", "elements": elements}]


class SlackApi(LazyHttpClient):
    """chat.postMessage with the bot token, over one aiohttp session created in the server's loop."""

    def __init__(self, api_base_url: str, token: str) -> None:
        self.base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self.token = token
        super().__init__()

    async def post_message(self, **message: Any) -> bool:
        """Posts one message (never `as_user`, not retried); a failure is logged, not raised, so the turn
        is kept."""
        return await self.call("chat.postMessage", retry=False, **message) is not None

    async def call(self, method: str, form: bool = False, retry: bool = True, **params: Any) -> dict[str, Any] | None:
        """A method: its answer when ok, else None (logged). Reading methods take a form, writing ones
        JSON; a rate-limited call waits as Slack says (Retry-After) and tries again, unless `retry` is off."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode({key: str(value) for key, value in params.items()})
        else:
            headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(params)
        while True:
            answer = await self._post_json(f"{self.base}{method}", f"Slack {method}", data=data, headers=headers)
            if answer is None:
                return None
            status, body, reply_headers = answer
            wait = _retry_wait(reply_headers) if status == 429 and retry else None
            if wait is None or wait > MAX_RETRY_WAIT:
                break
            await asyncio.sleep(wait)
        if not body.get("ok"):
            logger.error("Slack %s refused: %s", method, body.get("error"))
            return None
        return body

    async def bot_messages(self, channel: str) -> list[str] | None:
        """The ts of every message an app posted in a direct message, threads included; None if unreadable.

        In a DM between a person and this app, only this app can post as a bot."""
        found: list[str] = []
        parents = await self._pages("conversations.history", channel=channel)
        if parents is None:
            return None
        for message in parents:
            if message.get("bot_id"):
                found.append(message["ts"])
            if message.get("reply_count"):
                replies = await self._pages("conversations.replies", channel=channel, ts=message["ts"])
                if replies is None:
                    return None
                found += [reply["ts"] for reply in replies if reply.get("bot_id") and reply["ts"] != message["ts"]]
        return found

    async def _pages(self, method: str, **params: Any) -> list[dict[str, Any]] | None:
        messages: list[dict[str, Any]] = []
        cursor = ""
        for _page in range(MAX_HISTORY_PAGES):
            body = await self.call(method, form=True, limit=HISTORY_PAGE, cursor=cursor, **params)
            if body is None:
                return None
            messages += [item for item in body.get("messages") or [] if isinstance(item, dict) and item.get("ts")]
            cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return messages

    async def upload_file(self, channel: str, thread_ts: str | None, filename: str, content: bytes, title: str) -> bool:
        """A file shared in the conversation, the current way (files.upload is retired): ask for an
        upload URL, send the bytes there, then complete the upload into the channel (and thread)."""
        ticket = await self.call("files.getUploadURLExternal", form=True, filename=filename, length=len(content))
        if not ticket or not isinstance(ticket.get("upload_url"), str) or not ticket.get("file_id"):
            return False
        try:
            async with self._client().post(
                ticket["upload_url"], data=content, headers={"Content-Type": "application/octet-stream"}
            ) as reply:
                if reply.status != 200:
                    logger.error("Slack file upload refused: HTTP %d", reply.status)
                    return False
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("Slack file upload failed: %s", error.__class__.__name__)
            return False
        shared = {"files": json.dumps([{"id": ticket["file_id"], "title": title}]), "channel_id": channel}
        if thread_ts:
            shared["thread_ts"] = thread_ts
        return await self.call("files.completeUploadExternal", form=True, **shared) is not None


def _retry_wait(headers: Any) -> int | None:
    """The seconds a 429's Retry-After asks for; None when it is unreadable (then no retry)."""
    try:
        return int(headers.get("Retry-After") or 0)
    except ValueError:
        return None


class SlackOutput(TextOnlyOutput):
    """Sends the bot's replies to one Slack conversation (and thread)."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    def __init__(self, api: SlackApi, channel: str, thread_ts: str | None = None) -> None:
        self.api = api
        self.channel = channel
        self.thread_ts = thread_ts
        self.erasure_note: str | None = None  # set by an erasure: the note that says what was deleted

    async def _post(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        message: dict[str, Any] = {"channel": self.channel, "text": escape(text)}
        if blocks:
            message["blocks"] = blocks
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        await self.api.post_message(**message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text, MAX_TEXT_CHARS):
            await self._post(piece)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        *before, last = split_text(text, MAX_TEXT_CHARS) or [" "]
        blocks = button_blocks(last, buttons)
        if blocks is None:
            await self.send_text_message(recipient_id, buttons_as_text(text, buttons))
            return
        for piece in before:
            await self._post(piece)
        await self._post(last, blocks)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._post(image, [{"type": "image", "image_url": image, "alt_text": "image"}])

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_erasure(json_message):
            self.erasure_note = await self.delete_own_messages()
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)

    async def delete_own_messages(self) -> str | None:
        """Deletes the bot's messages in this direct message; the key of the note that says what happened.

        Only in a DM (ids start with "D"): in a shared channel the bot's messages answer other people too."""
        if not self.channel.startswith("D"):
            return None
        own = await self.api.bot_messages(self.channel)
        if own is None:
            return "dm_not_deleted"
        deleted = [await self.api.call("chat.delete", channel=self.channel, ts=ts) for ts in own]
        return "dm_deleted" if all(deleted) else "dm_not_deleted"

    async def send_file(self, recipient_id: str, filename: str, content: bytes, caption: str) -> bool:
        return await self.api.upload_file(self.channel, self.thread_ts, filename, content, caption)


@dataclass
class SlackTurn(WebhookTurn):
    """What one event or button press asks the bot to do."""

    team_id: str
    user_id: str
    channel: str
    thread_ts: str | None
    text: str | None
    note: str | None = None

    @property
    def sender_id(self) -> str:
        return f"slack-{self.team_id}-{self.user_id}"


class SlackInput(WebhookInput):
    """The Slack webhook; see the module docstring."""

    label = "Slack"
    delivery = "event"

    settings = {
        "slack_token": ("SLACK_TOKEN", None),
        "slack_signing_secret": ("SLACK_SIGNING_SECRET", None),
        "slack_api_base_url": ("SLACK_API_BASE_URL", DEFAULT_API_BASE_URL),
    }

    def __init__(
        self,
        slack_token: str | None,
        slack_signing_secret: str | None,
        slack_api_base_url: str = DEFAULT_API_BASE_URL,
    ) -> None:
        self.signing_secret = slack_signing_secret
        self.api = SlackApi(slack_api_base_url, slack_token) if slack_token and slack_signing_secret else None
        if self.api is None:
            # Both are needed: without the secret nothing could be verified, without the token nothing sent.
            logger.info("Slack channel off: SLACK_TOKEN and SLACK_SIGNING_SECRET are both needed")
        super().__init__()

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Verifies, parses, de-duplicates and queues one request; answers within Slack's 3 s."""
        refused = verify_request(
            self.signing_secret,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
            request.body,
        )
        if refused:
            logger.warning("Slack: request refused (%s)", refused)
            return response.json({"error": refused}, status=401)
        body = parse_body(request.headers.get("Content-Type", ""), request.body)
        if body is None:
            return response.json({"error": "expected a JSON object or a form with a payload"}, status=400)
        if body.get("type") == "url_verification":  # Slack checks the URL when it is saved
            return response.json({"challenge": str(body.get("challenge", ""))})
        if not self.seen.first_time(delivery_key(body, request.body)):
            return response.json({"ok": True, "duplicate": True})
        turn = parse_request(body)
        if turn is not None:
            self._queue(request.app, turn, on_new_message)
        return response.json({"ok": True})

    def output_for(self, turn: SlackTurn) -> SlackOutput:
        return SlackOutput(self.api, turn.channel, turn.thread_ts)

    def note(self, notes: dict[str, str], key: str) -> str:
        return notes[key].replace("{emergency}", current_locale().emergency)

    # Slack doesn't say where a user is in its events, so no locale is passed (`metadata` is None): the
    # configured SECONDLOOK_LOCALE gives the emergency numbers.


def delivery_key(body: dict[str, Any], raw: bytes) -> str:
    """What makes a delivery the same one again: Slack's `event_id` (a button press's `trigger_id`);
    without one, the event's team, channel, user, ts and type (a message's ts is unique in its
    channel), so a replayed signed request is no second turn; failing those, the body itself."""
    for name in ("event_id", "trigger_id"):
        if isinstance(body.get(name), str) and body[name]:
            return f"id:{body[name]}"
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    if event.get("ts"):
        fields = [body.get("team_id"), event.get("channel"), event.get("user"), event.get("ts"), event.get("type")]
        return "event:" + hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()
    return "body:" + hashlib.sha256(raw).hexdigest()


def parse_body(content_type: str, body: bytes) -> dict[str, Any] | None:
    """Events come as JSON (any charset parameter), button presses as a form field `payload`."""
    media_type = content_type.split(";")[0].strip().lower()
    try:
        if media_type == "application/json":
            parsed = json.loads(body)
        elif media_type == "application/x-www-form-urlencoded":
            parsed = json.loads(parse_qs(body.decode("utf-8")).get("payload", [""])[0])
        else:
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def parse_request(body: dict[str, Any]) -> SlackTurn | None:
    """The turn a verified request asks for; None for everything the bot doesn't answer."""
    if body.get("type") == "event_callback" and isinstance(body.get("event"), dict):
        return parse_event(str(body.get("team_id") or ""), body["event"])
    if body.get("type") == "block_actions":
        return parse_button(body)
    return None


def parse_event(team_id: str, event: dict[str, Any]) -> SlackTurn | None:
    """Direct messages and mentions from people; the bot's own posts, edits and joins are ignored."""
    user, channel, text = event.get("user"), event.get("channel"), event.get("text")
    if event.get("bot_id") or not isinstance(user, str) or not isinstance(channel, str):
        return None
    text = text[:MAX_INPUT_CHARS] if isinstance(text, str) else ""
    subtype = event.get("subtype")
    if event.get("type") == "message" and event.get("channel_type") == "im":
        if subtype == "file_share":
            return SlackTurn(team_id, user, channel, event.get("thread_ts"), text.strip() or None, note="text_only")
        if subtype:
            return None
        return SlackTurn(team_id, user, channel, event.get("thread_ts"), text.strip() or None)
    if event.get("type") == "app_mention" and not subtype:
        thread_ts = event.get("thread_ts") or event.get("ts")
        if not _is_direct_message(channel, event.get("channel_type")):
            return SlackTurn(team_id, user, channel, thread_ts, None, note="dm_only")
        return SlackTurn(team_id, user, channel, thread_ts, _MENTION.sub(" ", text).strip() or None)
    return None


def _is_direct_message(channel: str, channel_type: Any = None) -> bool:
    """A DM: the event says `im`, or the conversation id is a DM's (Slack's start with D)."""
    return channel_type == "im" or channel.startswith("D")


def parse_button(body: dict[str, Any]) -> SlackTurn | None:
    """A Block Kit button press: its value is the payload of the bot's button."""
    actions = body.get("actions") if isinstance(body.get("actions"), list) else []
    action = actions[0] if actions and isinstance(actions[0], dict) else {}
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    value, user_id, channel_id = action.get("value"), user.get("id"), channel.get("id")
    if action.get("type") != "button" or not all(isinstance(item, str) for item in (value, user_id, channel_id)):
        return None
    team = body.get("team") if isinstance(body.get("team"), dict) else {}
    team_id = str(team.get("id") or user.get("team_id") or "")
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    if not _is_direct_message(channel_id):  # a button left in a channel by an older version
        return SlackTurn(team_id, user_id, channel_id, thread_ts, None, note="dm_only")
    return SlackTurn(team_id, user_id, channel_id, thread_ts, value[:MAX_INPUT_CHARS])

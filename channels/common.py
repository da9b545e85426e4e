"""Pieces the Telegram and Slack channels share: settings from credentials.yml or the environment,
de-duplication of re-delivered updates, ordered background processing, splitting long replies, buttons
as text, the locale hint, and the one-time privacy note.

Neither channel stores anything of its own about a user: the de-duplication window holds platform
update ids, and whether the privacy note is due is read from the tracker store Rasa already keeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered

from channels.guard import answer_turn
from secondlook.content import content
from secondlook.my_data import ERASE_CLIENT

logger = logging.getLogger(__name__)

# A value Rasa left unexpanded because it was quoted in credentials.yml: "${NAME}".
_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def setting(credentials: Mapping[str, Any] | None, key: str, env_name: str, default: str | None = None) -> str | None:
    """One credential: from credentials.yml when given there, else from the environment variable.

    Rasa expands a plain `${NAME}` itself and aborts the start when NAME is unset, which would make an
    unconfigured channel fatal. A quoted "${NAME}" reaches us unexpanded and is resolved here, so an
    unset variable just leaves the value absent (and the channel off)."""
    value = (credentials or {}).get(key)
    if isinstance(value, str):
        reference = _ENV_REFERENCE.match(value.strip())
        value = os.environ.get(reference.group(1)) if reference else value
    elif value is None:
        value = os.environ.get(env_name)
    else:
        value = str(value)
    value = (value or "").strip()
    return value or default


def log_id(sender_id: str) -> str:
    """A short hash of a sender id for the logs (the id itself is personal data)."""
    return hashlib.sha256(sender_id.encode()).hexdigest()[:10]


class SeenIds:
    """The most recent update ids, to answer a re-delivered update only once.

    Bounded, in memory: platforms re-deliver within minutes, so a window of recent ids is enough. With
    several Rasa replicas, route a platform's webhook to one of them (or share the window)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, update_id: str) -> bool:
        """True the first time an id is seen (and remembers it), False for a repeat."""
        if update_id in self._ids:
            self._ids.move_to_end(update_id)
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class SenderQueues:
    """Runs each sender's messages one after the other, in arrival order, in the background.

    The webhook must answer quickly (Slack gives 3 s), so the turn runs after the response; chaining a
    sender's turns keeps their order, which separate tasks would not guarantee."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task] = {}

    def submit(self, sender_id: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task:
        previous = self._tails.get(sender_id)
        task = asyncio.get_running_loop().create_task(self._run_after(previous, sender_id, work))
        self._tails[sender_id] = task
        task.add_done_callback(lambda done: self._forget(sender_id, done))
        return task

    @staticmethod
    async def _run_after(previous: asyncio.Task | None, sender_id: str, work: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its failure is its own; this turn still runs
        try:
            await work()
        except Exception:  # a broken turn must not take the channel down; log without the message
            logger.exception("a turn of sender %s failed", log_id(sender_id))

    def _forget(self, sender_id: str, task: asyncio.Task) -> None:
        if self._tails.get(sender_id) is task:
            del self._tails[sender_id]

    async def drain(self) -> None:
        """Waits for the turns in progress (used when the server stops)."""
        if self._tails:
            await asyncio.wait(list(self._tails.values()), timeout=10)


def split_text(text: str, limit: int) -> list[str]:
    """Splits a reply into pieces of at most `limit` characters, at paragraph breaks if possible, then
    line breaks, then sentence ends, then spaces, and only as a last resort inside a word."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        cut = _cut_point(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in ("\n\n", "\n", ". ", "! ", "? ", " "):
        position = window.rfind(separator, 0, limit)
        if position > limit // 3:  # a cut near the start would leave a uselessly short piece
            return position + len(separator.rstrip(" ")) if separator.strip() else position
    return limit


def buttons_as_text(text: str, buttons: list[dict[str, Any]]) -> str:
    """The reply with its buttons written out, for when they can't be sent as buttons: the titles are
    plain phrases the NLU understands, so typing one works like pressing it."""
    titles = [str(button.get("title") or "").strip() for button in buttons]
    options = "\n".join(f"• {title}" for title in titles if title)
    return f"{text}\n\nYou can reply with:\n{options}" if options else text


def is_machine_payload(json_message: Any) -> bool:
    """The actions' machine-readable payloads ({"data": {"type": ...}}) for the web chat."""
    return isinstance(json_message, dict) and isinstance(json_message.get("data"), dict)


def is_erasure(json_message: Any) -> bool:
    """The payload that the erasure action sends when "delete my data" is done: erase the chat's copies too."""
    return is_machine_payload(json_message) and json_message["data"].get("type") == ERASE_CLIENT


@cache
def _configured_locales() -> dict[str, str]:
    data = content("locales.yml")
    # Only language-region codes (en-GB, en-US): "EU" is a region of ours, but "eu" is Basque.
    return {code.lower(): code for code in data["locales"] if "-" in code}


def locale_metadata(language_code: Any) -> dict[str, str]:
    """{"locale": code} when the platform's language tag is exactly one of our locales, else {}.

    A bare "en" says nothing about the country, so it must not pick emergency numbers."""
    if not isinstance(language_code, str):
        return {}
    code = _configured_locales().get(language_code.strip().replace("_", "-").lower())
    return {"locale": code} if code else {}


@cache
def channel_notes(channel: str) -> dict[str, str]:
    """The reviewed texts of one channel from content/channel_notes.yml."""
    notes = content("channel_notes.yml")
    return {key: " ".join(str(value).split()) for key, value in notes[channel].items()}


async def handle_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    tracker_store: Any,
    privacy_note: str,
) -> None:
    """Runs one turn, then sends the privacy note if this was the first message of the conversation.

    "First" is read from the tracker store after the turn: exactly one user message in the current
    conversation. So the note follows the bot's first replies (an emergency answer is never delayed by
    it), comes again in a new session (like the disclaimer), and nothing extra is stored for it.
    A turn that fails gets the honest reply instead (channels/guard.py) and no note."""
    if not await answer_turn(on_new_message, message):
        return
    if tracker_store is None or not await _is_first_user_message(tracker_store, message.sender_id):
        return
    await message.output_channel.send_text_message(message.sender_id, privacy_note)


async def _is_first_user_message(tracker_store: Any, sender_id: str) -> bool:
    tracker = await tracker_store.retrieve(sender_id)
    if tracker is None:
        return False  # erased in this very turn ("delete my data"): no note after the goodbye
    return sum(isinstance(event, UserUttered) for event in tracker.events) == 1


def tracker_store_of(app: Any) -> Any:
    """The tracker store of the running agent, if there is one (there is in `rasa run`)."""
    agent = getattr(app.ctx, "agent", None)
    return getattr(agent, "tracker_store", None)


class TextOnlyOutput(OutputChannel):
    """Base of the two output channels: the custom payloads are for the web chat and are dropped
    (their content is always sent as text too); images and attachments go out as links.

    One payload is acted on: `data_export` ("what do you keep about me?") is answered with the full
    copy of the user's data as a file (`send_file`), read from the stores by the Rasa server
    (channels/privacy.py); the channel sets `tracker_store` so that it can."""

    tracker_store: Any = None

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_machine_payload(json_message) and json_message["data"].get("type") == "data_export":
            await self.send_data_export(recipient_id)
        elif not is_machine_payload(json_message):
            logger.warning("%s: dropped a custom payload this channel can't show", self.name())

    async def send_data_export(self, recipient_id: str) -> None:
        """The copy of everything kept about the recipient, as a JSON file; an honest line if it fails."""
        from sqlalchemy.exc import SQLAlchemyError

        from channels.privacy import export_file
        from secondlook.my_data import export_filename, texts

        try:
            content = await asyncio.get_running_loop().run_in_executor(
                None, export_file, self.tracker_store, recipient_id
            )
        except (SQLAlchemyError, LookupError) as error:
            logger.error("%s: the data export failed: %s", self.name(), type(error).__name__)
            content = None
        sent = content is not None and await self.send_file(
            recipient_id, export_filename(), content, texts()["file_caption"]
        )
        if not sent:
            await self.send_text_message(recipient_id, texts()["file_failed"])

    async def send_file(self, recipient_id: str, filename: str, content: bytes, caption: str) -> bool:
        """Sends a file to the recipient; False when it could not be delivered."""
        raise NotImplementedError


class LazyHttpClient:
    """One aiohttp session per platform API, created on first use inside the server's event loop
    (creating it earlier binds it to another loop: the stock Telegram connector's "Event loop is closed")."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def _post_json(self, url: str, what: str, **request: Any) -> tuple[int, dict[str, Any], Any] | None:
        """One POST whose answer is JSON: (status, the body ({} unless an object), the headers); None when
        it could not be made or read, logged as "`what` failed" and not raised: a reply that can't be
        delivered must not break the turn, which is saved either way."""
        try:
            async with self._client().post(url, **request) as reply:
                body = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("%s failed: %s", what, error.__class__.__name__)
            return None
        return reply.status, body if isinstance(body, dict) else {}, reply.headers

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

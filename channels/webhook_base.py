"""The skeleton the Telegram and Slack channels share: a webhook at `POST /webhooks/<name>/webhook` that
is off (404) when the channel is not configured; a request answered at once, its turn run afterwards
in the sender's queue (drained when the server stops); a rate limit per sender; each message cleaned
(channels/guard.py) before the turn runs, and the channel's one-time privacy note after it.

A channel says only what differs: how a request is checked and parsed (`receive`), its output
channel (`output_for`), and optionally what it does when a turn is queued (`on_queued`) or before
the turn runs (`before_turn`), the text of a note (`note`) and the message's metadata (`metadata`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import (
    LazyHttpClient,
    SeenIds,
    SenderQueues,
    TextOnlyOutput,
    channel_notes,
    handle_turn,
    log_id,
    setting,
    tracker_store_of,
)
from channels.guard import RateLimiter, clean_text
from channels.rasa_patches import apply as apply_rasa_patches

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WebhookTurn:
    """What one request asks the bot to do: the text of a turn (None for none) and a note to send
    first (a key of content/channel_notes.yml, or None); the sender is the channel's to name."""

    text: str | None
    note: str | None

    @property
    def sender_id(self) -> str:
        raise NotImplementedError


class WebhookInput(InputChannel):
    """Base of the Telegram and Slack input channels; see the module docstring."""

    label = "Webhook"  # the platform's name, in logs and the 404
    delivery = "request"  # what the platform calls one delivery, in the logs
    api: LazyHttpClient | None = None  # None: the channel is not configured
    # The credentials.yml keys, each with the environment variable read when the key is absent, and a default.
    settings: ClassVar[Mapping[str, tuple[str, str | None]]] = {}

    def __init__(self) -> None:
        self.seen = SeenIds()
        self.queues = SenderQueues()
        self.limiter = RateLimiter()

    @classmethod
    def name(cls) -> str:
        return cls.label.lower()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebhookInput:
        return cls(**{key: setting(credentials, key, env, default) for key, (env, default) in cls.settings.items()})

    @property
    def enabled(self) -> bool:
        return self.api is not None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook_blueprint = Blueprint(self.name(), __name__)
        apply_rasa_patches(webhook_blueprint)

        @webhook_blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": f"the {self.label} channel is not configured"}, status=404)
            return await self.receive(request, on_new_message)

        if self.enabled:
            webhook_blueprint.listener("after_server_start")(self._after_start)
            webhook_blueprint.listener("before_server_stop")(self._before_stop)
        return webhook_blueprint

    async def _after_start(self, app: Any, _loop: Any) -> None:
        """Nothing by default; a channel that registers itself with its platform does it here."""

    async def _before_stop(self, _app: Any, _loop: Any) -> None:
        await self.queues.drain()
        await self.api.close()

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Checks, parses, de-duplicates and queues one request (`_queue`); answers at once."""
        raise NotImplementedError

    def output_for(self, turn: WebhookTurn) -> TextOnlyOutput:
        """The output channel that answers the turn's conversation."""
        raise NotImplementedError

    def on_queued(self, app: Any, turn: WebhookTurn) -> None:
        """Called for every turn before the rate limit, e.g. to acknowledge a button press at once."""

    def before_turn(self, turn: WebhookTurn) -> None:
        """Called in the sender's queue before anything is sent."""

    def note(self, notes: dict[str, str], key: str) -> str:
        return notes[key]

    def metadata(self, turn: WebhookTurn) -> dict[str, Any] | None:
        return None

    def _queue(self, app: Any, turn: WebhookTurn, on_new_message: OnNewMessage) -> None:
        output = self.output_for(turn)
        output.tracker_store = tracker_store_of(app)  # for the copy of the user's data (a file)
        sender_id = turn.sender_id
        notes = channel_notes(self.name())
        self.on_queued(app, turn)

        async def work() -> None:
            self.before_turn(turn)
            if turn.note:
                await output.send_text_message(sender_id, self.note(notes, turn.note))
            cleaned = clean_text(turn.text) if turn.text else None
            if cleaned and cleaned.problem:
                await output.send_text_message(sender_id, cleaned.reply)
            elif cleaned:
                message = UserMessage(
                    cleaned.text, output, sender_id, input_channel=self.name(), metadata=self.metadata(turn)
                )
                await handle_turn(on_new_message, message, tracker_store_of(app), notes["privacy_note"])
            if output.erasure_note:  # after the bot's closing words: what could and couldn't be deleted
                await output.send_text_message(sender_id, notes[output.erasure_note])

        if not self.limiter.allow(sender_id):  # a flood: dropped before any work (and any reply)
            logger.warning(
                "%s: sender %s over the rate limit, %s dropped", self.label, log_id(sender_id), self.delivery
            )
            return
        logger.debug("%s: turn queued for %s", self.label, log_id(sender_id))
        self.queues.submit(sender_id, work)

    def get_output_channel(self) -> None:
        """No conversation-less output channel: a reply always needs the conversation of a request."""
        return None

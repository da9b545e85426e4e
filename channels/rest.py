"""The REST channel at the contract's URL, `POST /webhooks/rest/webhook`, with the checks Rasa's stock
`rest` channel lacks. It keeps the name `rest` (so the URL and the reply format are unchanged) and is
keyed in credentials.yml by module path.

The stock channel takes any JSON: a missing sender becomes the shared conversation "default" (one
user writing into another's), a non-string message or sender is a 500 or a crash in the processor,
the client may set `input_channel`, nothing limits the size, and a failed turn answers 200 with no
reply. Here:

- with a token configured (`SECONDLOOK_REST_TOKEN`, or `token` in credentials.yml) every request must
  carry `Authorization: Bearer <token>`, else 401; in production (secondlook/deployment.py) REST is off
  (403) unless a token is configured: REST trusts the sender id it is given, so on the open internet
  anyone could read a conversation whose id they know;
- the body must be a JSON object (any content type: `curl -d` sends a form type) of at most 64 KB,
  else 400 / 413; `sender` a string of 1-128 letters, digits and `_.:@+=-`, not one of the ids that belong to
  Telegram (`telegram-...`), Slack (`slack-...`) or the web chat (its session ids: 32 hex digits),
  else 400 / 403; `message` a string, else 400; `metadata` absent or an object;
- the text is cleaned as on every channel (channels/guard.py); an empty or too long message gets a
  polite reply (200, the turn is not run, nothing is stored);
- one sender may send `SECONDLOOK_RATE_BURST` messages at once, then `SECONDLOOK_RATE_PER_SECOND`,
  with at most two turns waiting or running at a time, and one client address (whatever the senders)
  as `AddressLimit` allows; beyond that 429 with a polite reply, before any work is done;
- a turn that fails outside the actions still answers (the honest reply), and Rasa's custom action
  failures become that reply too (channels/rasa_patches.py).
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import log_id, setting
from channels.guard import MAX_METADATA_BYTES, AddressLimit, RateLimiter, answer_turn, clean_text, texts
from channels.rasa_patches import apply as apply_rasa_patches
from channels.webchat import SESSION_ID as WEBCHAT_SESSION_ID
from secondlook.deployment import is_production

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
SENDER_ID = re.compile(r"[A-Za-z0-9_.:@+=-]{1,128}")  # whole string (fullmatch); also safe in the API's URLs
RESERVED_PREFIXES = ("telegram-", "slack-")  # conversations of the other channels' users
# Rasa runs one sender's turns one at a time; more waiting than this is a script, not a person, and
# would only pile up work (and open connections) behind that sender's lock. Per Rasa process.
DEFAULT_MAX_IN_FLIGHT = 2


class RestInput(InputChannel):
    """`POST /webhooks/rest/webhook` with `{"sender": ..., "message": ..., "metadata": {...}}`."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        return cls(setting(credentials, "token", "SECONDLOOK_REST_TOKEN"))

    def __init__(self, token: str | None = None) -> None:
        token = token or setting(None, "token", "SECONDLOOK_REST_TOKEN")
        self.expected_authorization = f"Bearer {token}".encode() if token else None
        self.off = self.expected_authorization is None and is_production()
        if self.off:
            logger.warning("REST is off in production: set SECONDLOOK_REST_TOKEN to offer it with a token")
        self.limiter = RateLimiter()
        self.addresses = AddressLimit()
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.max_in_flight = int(os.environ.get("SECONDLOOK_REST_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = Blueprint("secondlook_rest", __name__)
        apply_rasa_patches(rest)

        @rest.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        return rest

    async def receive(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "the body must be JSON")
        if not isinstance(parsed, dict):
            return _error(400, "the body must be a JSON object")
        sender_id, problem = _sender(parsed.get("sender"))
        if problem:
            return _error(403 if sender_id else 400, problem)
        metadata = parsed.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(json.dumps(metadata)) > MAX_METADATA_BYTES):
            return _error(400, f"metadata must be a JSON object of at most {MAX_METADATA_BYTES // 1024} KB")
        if not isinstance(parsed.get("message"), str):
            return _error(400, "message must be a string")
        if not self.addresses.allow(self.addresses.of_request(request)):
            logger.warning("REST: a client address over its rate limit (sender %s)", log_id(sender_id))
            return response.json(_replies(sender_id, texts()["slow_down"]), status=429, headers={"Retry-After": "1"})
        if not self.limiter.allow(sender_id) or self.in_flight[sender_id] >= self.max_in_flight:  # both count
            logger.warning("REST: sender %s over the rate limit", log_id(sender_id))
            return response.json(_replies(sender_id, texts()["slow_down"]), status=429, headers={"Retry-After": "1"})
        cleaned = clean_text(parsed["message"])
        if cleaned.problem:
            return response.json(_replies(sender_id, cleaned.reply))
        collector = CollectingOutputChannel()
        message = UserMessage(cleaned.text, collector, sender_id, input_channel=self.name(), metadata=metadata)
        self.in_flight[sender_id] += 1
        try:
            await answer_turn(on_new_message, message)
        finally:
            self.in_flight[sender_id] -= 1
            if not self.in_flight[sender_id]:
                del self.in_flight[sender_id]
        return response.json(collector.messages)

    def _refused(self, request: Request) -> HTTPResponse | None:
        """401/403 when this request may not use REST at all (see the module docstring), else None."""
        if self.off:
            return _error(403, "the REST channel is off in production; set SECONDLOOK_REST_TOKEN to offer it")
        if self.expected_authorization is None:
            return None
        sent = str(request.headers.get("Authorization") or "").encode()
        if hmac.compare_digest(sent, self.expected_authorization):
            return None
        return _error(401, "this REST channel needs the header Authorization: Bearer <token>")


def _sender(value: Any) -> tuple[str | None, str | None]:
    """(sender id, None) when usable, else (id or None, why not): an id that is well formed but
    reserved comes back with its reason (403), a malformed one without an id (400)."""
    if not isinstance(value, str) or not SENDER_ID.fullmatch(value):
        return None, "sender must be 1-128 characters: letters, digits and _ . : @ + = -"
    if value.lower().startswith(RESERVED_PREFIXES) or WEBCHAT_SESSION_ID.fullmatch(value):
        return value, "this sender id belongs to another channel"
    return value, None


def _replies(sender_id: str, text: str) -> list[dict[str, str]]:
    return [{"recipient_id": sender_id, "text": text}]


def _error(status: int, why: str) -> HTTPResponse:
    return response.json({"error": why}, status=status)

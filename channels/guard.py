"""What keeps every channel answering under faults and hostile input: an honest reply when a custom
action or a whole turn fails, one cleaning of incoming text, a rate limit per sender and one per
client address.

Why two layers for failures. Rasa 3.6 catches an exception of a custom action (action server down,
failing, too slow) inside `MessageProcessor._run_action`, logs it and sends *nothing*; no channel can
see that it happened. So the first layer sits where the failure is: `RemoteAction.run` is wrapped
(channels/rasa_patches.py, applied when the channels are built, i.e. in every `rasa run` that uses
our credentials.yml) to turn any failure into an honest reply (`fallback_events`), stored in the
tracker as a normal bot message, sent through whichever output channel the turn came from (REST,
socket.io, Telegram, Slack), with no slot touched. The second layer (`answer_turn`) is for failures that escape the
processor (the tracker store down, ...): each channel runs its turns through it and sends the honest
reply itself.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from secondlook.content import content
from secondlook.locale import current_locale

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000  # far more than anyone types in one message; the same on every channel
MAX_METADATA_BYTES = 4 * 1024  # a message's metadata as JSON, on REST and the web chat
DEFAULT_ACTION_TIMEOUT = 10.0  # seconds; Rasa's own is 5 minutes of silence
PENALTY_FLOOR = -5.0  # the most a rate-limited sender can owe: back in at most (1 - floor) / rate s
FALLBACK_MARK = "secondlook_fallback"  # in the BotUttered metadata, so tests and logs can tell


@cache
def texts() -> dict[str, str]:
    """The reviewed texts of content/reliability.yml, whitespace folded."""
    data = content("reliability.yml")
    return {key: " ".join(str(value).split()) for key, value in data.items()}


def too_long_text() -> str:
    return texts()["too_long"].replace("{limit}", f"{MAX_MESSAGE_CHARS:,}")


# --- incoming text -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cleaned:
    """A message made safe to process: `text` to use, or `problem` ("empty", "too_long") to answer."""

    text: str | None
    problem: str | None = None

    @property
    def reply(self) -> str | None:
        if self.problem == "too_long":
            return too_long_text()
        return texts()[self.problem] if self.problem else None


def clean_text(raw: Any) -> Cleaned:
    """One message's text, the same way on every channel: Unicode NFC, no lone surrogates (they can't
    be stored as UTF-8), no control or format characters but line breaks and tabs, trimmed; then
    refused when empty or longer than MAX_MESSAGE_CHARS (never cut silently: the cut-off part may be
    what mattered)."""
    if not isinstance(raw, str):
        return Cleaned(None, "empty")
    text = raw.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # lone surrogates -> U+FFFD
    text = unicodedata.normalize("NFC", text)
    text = "".join(char for char in text if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs"))
    text = text.replace("\ufffd", "").strip()
    if not text:
        return Cleaned(None, "empty")
    if len(text) > MAX_MESSAGE_CHARS:
        return Cleaned(None, "too_long")
    return Cleaned(text)


# --- rate limit --------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per sender: `burst` messages at once, then `rate` a second.

    Generous for a person (quick button presses fit in the burst; nobody keeps up a message a second)
    and for scripted tests, but a flood from one sender is refused before it costs any NLU or dialogue
    work: Rasa runs the models in its event loop, so every turn a flooder gets delays everyone else.
    In memory and bounded: with several replicas each keeps its own (a flood is spread)."""

    def __init__(self, rate: float | None = None, burst: float | None = None, size: int = 50_000) -> None:
        self.rate = rate if rate is not None else float(os.environ.get("SECONDLOOK_RATE_PER_SECOND", "1"))
        self.burst = burst if burst is not None else float(os.environ.get("SECONDLOOK_RATE_BURST", "20"))
        self.size = size
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, sender_id: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(sender_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        # A refused message costs a token too (down to a small debt): a sender who keeps sending while
        # refused stays refused, so a flood gets nothing through, not one turn a second; a person who
        # waits a few seconds, as the reply asks, is let in again.
        self._buckets[sender_id] = (tokens - 1 if allowed else max(PENALTY_FLOOR, tokens - 1), now)
        if len(self._buckets) > self.size:
            self._buckets.popitem(last=False)  # the longest idle sender: a full bucket by now anyway
        return allowed


# --- client addresses --------------------------------------------------------------------------

# Never limited by address unless configured otherwise: the host itself, and a proxy on the same host
# that sends no trusted header would put every user behind 127.0.0.1 (nginx limits them there).
DEFAULT_ADDRESS_EXEMPT = "127.0.0.1,::1"


class AddressLimit:
    """A token bucket per client address, across senders: a flood that rotates sender ids or web chat
    sessions still comes from one address. SECONDLOOK_ADDRESS_RATE_BURST (50) at once, then
    SECONDLOOK_ADDRESS_RATE_PER_SECOND (5): room for an office or a ward behind one NAT, well under what
    one Rasa process answers. An IPv6 client is counted by its /64 (one host gets a whole one).

    The address is the socket peer's, unless SECONDLOOK_TRUSTED_PROXY_HEADER names the header the proxy
    in front writes (X-Forwarded-For): then the entry SECONDLOOK_TRUSTED_PROXY_HOPS (1) from the right
    end of that list, the one the outermost of our proxies wrote; the entries left of it are the
    client's to invent. Set it only when the server can be reached through the proxy alone."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.header = env.get("SECONDLOOK_TRUSTED_PROXY_HEADER", "").strip()
        self.hops = max(1, int(env.get("SECONDLOOK_TRUSTED_PROXY_HOPS", "1")))
        self.limiter = RateLimiter(
            rate=float(env.get("SECONDLOOK_ADDRESS_RATE_PER_SECOND", "5")),
            burst=float(env.get("SECONDLOOK_ADDRESS_RATE_BURST", "50")),
        )
        exempt = env.get("SECONDLOOK_ADDRESS_LIMIT_EXEMPT", DEFAULT_ADDRESS_EXEMPT)
        self.exempt = [ipaddress.ip_network(item.strip(), strict=False) for item in exempt.split(",") if item.strip()]

    def address(self, forwarded: str | None, peer: str | None) -> str:
        """The client's address from the trusted header's value (all its lines joined by commas) and
        the socket peer's."""
        entries = [entry.strip() for entry in (forwarded or "").split(",") if entry.strip()] if self.header else []
        return _normalised(entries[-min(self.hops, len(entries))] if entries else peer or "")

    def of_request(self, request: Any) -> str:
        """The client address of a Sanic request."""
        forwarded = ",".join(request.headers.getall(self.header, [])) if self.header else None
        return self.address(forwarded, request.ip)

    def of_environ(self, environ: Mapping[str, Any]) -> str:
        """The client address of a socket.io connection (python-engineio's environ of a Sanic request)."""
        forwarded = environ.get("HTTP_" + self.header.upper().replace("-", "_")) if self.header else None
        return self.address(forwarded, getattr(environ.get("sanic.request"), "ip", None))

    def allow(self, address: str, now: float | None = None) -> bool:
        """True when the address may send one more message (exempt addresses always may)."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            parsed = None
        if parsed is not None and any(parsed in network for network in self.exempt):
            return True
        if parsed is not None and parsed.version == 6:
            address = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        return self.limiter.allow(address, now)


def _normalised(address: str) -> str:
    """One spelling per address (IPv4-mapped IPv6 as IPv4); anything unparseable as it came."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address or "unknown"
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


# --- failures ----------------------------------------------------------------------------------


async def answer_turn(on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage) -> bool:
    """Runs one turn; when it fails outside the actions (e.g. the tracker store is down), the user gets
    the honest reply instead of silence. True when the turn ran."""
    try:
        await on_new_message(message)
        return True
    except Exception as error:  # any failure: the user must hear something; logged without the text
        logger.error("a turn failed (%s); sent the honest reply", type(error).__name__, exc_info=True)
        try:
            await message.output_channel.send_text_message(message.sender_id, texts()["turn_failed"])
        except Exception as send_error:  # the channel itself is down: nothing more to do
            logger.error("could not send the honest reply either (%s)", type(send_error).__name__)
        return False


def action_timeout() -> float:
    try:
        return float(os.environ.get("SECONDLOOK_ACTION_TIMEOUT", DEFAULT_ACTION_TIMEOUT))
    except ValueError:
        return DEFAULT_ACTION_TIMEOUT


def _said(text: str, kind: str = "action_failed") -> BotUttered:
    return BotUttered(text=text, metadata={FALLBACK_MARK: kind})


def fallback_events(action_name: str, tracker: Any) -> list[Event]:
    """What a failed custom action leaves in the conversation: an honest reply and no slot changes,
    except for two actions whose job can't be skipped:

    - the emergency answer: the locale's numbers are sent anyway (they are configuration, readable
      here) and the role-play is stopped, exactly as the action would;
    - the session start: the session is started with the disclaimer, without restoring progress
      (the progress database may be what is down); the turn then goes on normally."""

    if action_name == "action_handle_emergency":
        latest = getattr(tracker, "latest_message", None)
        requested = (getattr(latest, "metadata", None) or {}).get("locale")
        locale = current_locale(requested if isinstance(requested, str) else None)
        return [
            _said(locale.medical_reply, "emergency"),
            _said(locale.self_harm_reply, "emergency"),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("rehearsal_active", False),
            SlotSet("line_assessment", None),
        ]
    if action_name == "action_session_start":
        return [SessionStarted(), _said(current_locale().disclaimer, "session_start"), ActionExecuted("action_listen")]
    if _already_apologised(tracker):
        return []  # one honest reply per turn is enough, however many actions fail
    return [_said(texts()["action_failed"])]


def _already_apologised(tracker: Any) -> bool:
    for event in reversed(list(getattr(tracker, "events", []))):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(FALLBACK_MARK) == "action_failed":
            return True
    return False

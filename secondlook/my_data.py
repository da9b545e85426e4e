"""What the assistant keeps about one user: said truthfully in a few lines, and given in full as a file.

The short answer is built from what the two stores hold at the moment of asking, never from a fixed
text: the progress database (through `ProgressStore.export`) and the tracker store, which keeps every
message the user wrote, health details included (`stores/tracker_store.py`, `message_counts`). The
wording is reviewed text in content/privacy.yml.

The full copy is a JSON document (the progress rows and every stored conversation event of that one
sender) that the Rasa server builds on request: behind a signed, short-lived link on the web chat and
REST (channels/privacy.py), as a file on Telegram and Slack. A link's token is single-purpose: it is
encrypted and authenticated (Fernet: AES-CBC with an HMAC-SHA256 checked in constant time) under a key
of its own, derived from the link secret, and holds the purpose, the sender id and an expiry checked on
every use. The sender id is needed to find the conversation and never appears in the URL in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable
from datetime import date, datetime, timezone
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from secondlook.appointments import date_text
from secondlook.content import content
from secondlook.deployment import link_secret
from secondlook.journey import Journey
from secondlook.progress_store import QUESTION_TOPIC
from secondlook.questions import load_question_bank

# The payload that asks the channel to erase its own copies of the conversation (channels/, web/src).
ERASE_CLIENT = "erase_client"

# Where the Rasa server serves the copy (channels/privacy.py): <path>/<token>.json
EXPORT_PATH = "/chat/my-data"
DEFAULT_EXPORT_LINK_TTL_SECONDS = 600
TOKEN_PURPOSE = "data_export"
FILE_CHANNELS = ("telegram", "slack")  # the copy comes as a file there; a link elsewhere


@cache
def texts() -> dict[str, Any]:
    return content("privacy.yml")["what_i_keep"]


# --- the short answer --------------------------------------------------------------------------------


def unsaved_user_messages(events: Iterable[dict], last_stored: float | None) -> int:
    """The user's messages of the turn in progress: in the tracker, not yet in the store (Rasa saves
    the conversation after the turn). Stored events are never newer than `last_stored`."""
    unsaved = [event for event in events if last_stored is None or (event.get("timestamp") or 0) > last_stored]
    return sum(1 for event in messages_as_said(unsaved) if event.get("event") == "user")


def keeps_nothing(progress: dict, stored_user_messages: int | None) -> bool:
    """Nothing from before this turn: no progress row of any kind and no stored message."""
    rows = ("completed_steps", "history", "notes", "rehearsals", "safety_events", "check_ins")
    return (
        stored_user_messages == 0
        and progress.get("first_seen") is None
        and not progress.get("preparation")
        and not any(progress.get(name) for name in rows)
    )


def _counted(kind: str, count: int, detail: str = "") -> str:
    one, several = texts()["items"][kind]
    return (one if count == 1 else several).format(count=count, detail=detail)


def _plural(kind: str, count: int) -> str:
    return f"{count} {_counted(kind, count)}"


def _also_items(progress: dict) -> list[str]:
    notes = progress.get("notes") or []
    questions = sum(1 for note in notes if note.get("topic") == QUESTION_TOPIC)
    items = []
    if questions:
        items.append(_counted("own_questions", questions))
    if len(notes) - questions:
        items.append(_counted("notes", len(notes) - questions))
    if progress.get("rehearsals"):
        items.append(_counted("rehearsals", len(progress["rehearsals"])))
    if progress.get("preparation"):
        items.append(_counted("situation", 1, load_question_bank().describe(progress["preparation"])))
    check_ins = progress.get("check_ins") or []
    if check_ins:
        day = date_text(date.fromisoformat(check_ins[0]["due_at"][:10]))
        items.append(_counted("check_ins", len(check_ins), day))
    if progress.get("safety_events"):
        items.append(_counted("safety_events", len(progress["safety_events"])))
    return items


def overview(
    journey: Journey,
    progress: dict,
    user_messages: int | None,
    since: float | None,
    channel: str | None,
    days: int,
    link_minutes: int,
) -> str:
    """The short answer. `user_messages` counts every message of the user the store holds and will
    hold after this turn (None: the store couldn't be read); `since` is when the oldest was written."""
    words = texts()
    lines = [words["heading"]]
    if user_messages is None:
        lines.append(words["conversation_unknown"])
    else:
        day = datetime.fromtimestamp(since or time.time(), tz=timezone.utc)
        messages = _plural("messages", user_messages)
        lines.append(words["conversation"].format(messages=messages, since=f"{day:%-d %B %Y}"))
    done = [row["step"] for row in progress.get("completed_steps") or [] if journey.has_step(row["step"])]
    if done:
        titles = ", ".join(f"“{journey.step(step).title}”" for step in done)
        lines.append(words["progress"].format(steps=_plural("steps", len(done)), titles=titles))
    else:
        lines.append(words["no_progress"])
    items = _also_items(progress)
    if items:
        lines.append(words["also"].format(items="; ".join(items)))
    lines += ["", words["expiry"].format(days=days), words["not_kept"]]
    if channel in words["platform"]:
        lines.append(words["platform"][channel])
    lines.append(words["see_file"] if channel in FILE_CHANNELS else words["see_download"].format(minutes=link_minutes))
    return "\n".join(lines)


def nothing_kept(days: int) -> str:
    return texts()["nothing"].format(days=days)


# --- the full copy -----------------------------------------------------------------------------------


def messages_as_said(events: Iterable[dict]) -> list[dict]:
    """The user's and the bot's messages, each once: a message read again in context is stored twice,
    reverted (a `rewind` event, actions/fallback_actions.py) and uttered again, as Rasa keeps it."""
    said: list[dict] = []
    for event in events:
        if event.get("event") == "rewind":
            while said and said.pop().get("event") != "user":
                pass
        elif event.get("event") in ("user", "bot") and event.get("text"):
            said.append(event)
    return said


def export_document(progress: dict, events: list[dict], days: int, now: float | None = None) -> dict:
    """Everything kept about one user: the progress rows, and the conversation both as readable
    messages and as the stored events themselves."""
    messages = [
        {
            "at": datetime.fromtimestamp(event.get("timestamp") or 0, tz=timezone.utc).isoformat(),
            "from": "you" if event.get("event") == "user" else "assistant",
            "text": event.get("text"),
        }
        for event in messages_as_said(events)
    ]
    return {
        "about": "Everything SecondLook keeps about you: your progress and our conversation.",
        "exported_at": datetime.fromtimestamp(now or time.time(), tz=timezone.utc).isoformat(),
        "retention_days": days,
        "progress": progress,
        "conversation": {"messages": messages, "stored_events": events},
    }


def export_bytes(document: dict) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def export_filename(now: float | None = None) -> str:
    return f"secondlook-my-data-{datetime.fromtimestamp(now or time.time(), tz=timezone.utc):%Y-%m-%d}.json"


# --- the signed, short-lived link --------------------------------------------------------------------


MAX_LINK_AGE_SECONDS = 3600  # a copy of someone's data: an hour at most, even if configured longer


def export_link_ttl_seconds() -> int:
    configured = int(os.environ.get("SECONDLOOK_EXPORT_LINK_TTL") or DEFAULT_EXPORT_LINK_TTL_SECONDS)
    return min(configured, MAX_LINK_AGE_SECONDS)


def _fernet() -> Fernet:
    """A key for these links only: a summary link's signature can't open a data export, nor back. Made
    from the link secret, never from the id salt (knowing one secret must not give the other)."""
    key = hmac.new(link_secret(), b"secondlook-data-export-links", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def sign_export_token(sender_id: str, now: float | None = None, ttl: int | None = None) -> str:
    """A token that opens this sender's copy until it expires (the sender id is encrypted in it)."""
    moment = now if now is not None else time.time()
    expires = int(moment + (ttl if ttl is not None else export_link_ttl_seconds()))
    body = json.dumps({"for": TOKEN_PURPOSE, "sender": sender_id, "expires": expires}).encode()
    return _fernet().encrypt_at_time(body, int(moment)).decode("ascii")


def verify_export_token(token: str, now: float | None = None) -> str | None:
    """The sender id a token opens, or None if it was forged, altered, made for something else or
    has expired. The authentication tag is checked (in constant time) before anything is decrypted."""
    try:
        encoded = token.encode("ascii")
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(encoded)) != encoded:
            return None  # only the one spelling the bot made (base64 ignores what follows the padding)
        moment = int(now if now is not None else time.time())
        # The age is capped where the link is checked too, whatever expiry a token claims.
        body = json.loads(_fernet().decrypt_at_time(encoded, MAX_LINK_AGE_SECONDS, moment))
    except (InvalidToken, ValueError, UnicodeError):
        return None
    if not isinstance(body, dict) or body.get("for") != TOKEN_PURPOSE:
        return None
    sender, expires = body.get("sender"), body.get("expires")
    if not isinstance(sender, str) or not isinstance(expires, int):
        return None
    if expires < (now if now is not None else time.time()):
        return None
    return sender

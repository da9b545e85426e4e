"""Rasa's SQL tracker store, with erasure, and database errors that carry no personal data.

Rasa open source has no way to delete a conversation, and it saves the in-memory tracker after every
turn: rows deleted from inside an action would be written straight back. So erasure happens here,
at save time: when the turn being saved ran `action_forget_me` to completion, every stored event of
that sender is deleted and nothing of the turn is written.

A failed statement's SQLAlchemy error quotes its parameters: the sender id (for the web chat, a
session id that works like a password) and the events with the message text. Whoever logs the error
(channels/guard.py logs a failed turn with its traceback) would write them to the log. So every
database error of this store is replaced by one that says only what failed: the operation, a hash of
the sender id, the error classes, PostgreSQL's SQLSTATE code and the statement with its placeholders.

It also says what it holds of one sender (`message_counts`), for the answer to "what do you keep
about me?", which the action server reads through `tracker_store_from` on the same endpoints file.
"""

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, AllSlotsReset, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import SQLAlchemyError, StatementError

from channels.common import log_id
from secondlook.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

ERASURE_ACTION = "action_forget_me"
MAX_STATEMENT_CHARS = 160


class ConversationStoreError(Exception):
    """A database error of the tracker store, told without its parameters."""


def describe(error: SQLAlchemyError, operation: str, sender_id: str | None) -> str:
    """What failed, in words that hold no message text and no sender id (see the module docstring).

    The driver's own message is left out too: PostgreSQL quotes values in some (a duplicate key, a
    malformed number), so only its class and SQLSTATE code are kept."""
    subject = f" of conversation {log_id(sender_id)}" if sender_id is not None else ""
    parts = [f"{operation}{subject} failed: {type(error).__name__}"]
    original = getattr(error, "orig", None)
    if original is not None:
        code = getattr(original, "pgcode", None)
        parts.append(f"({type(original).__module__}.{type(original).__name__}{f', SQLSTATE {code}' if code else ''})")
    if isinstance(error, StatementError) and error.statement:
        shape = re.sub(r"\s+", " ", str(error.statement)).strip()
        parts.append(f"in `{shape[:MAX_STATEMENT_CHARS]}{'...' if len(shape) > MAX_STATEMENT_CHARS else ''}`")
    return " ".join(parts)


@contextmanager
def errors_without_data(operation: str, sender_id: str | None = None) -> Iterator[None]:
    """Turns a database error into a `ConversationStoreError` that neither quotes nor chains it."""
    try:
        yield
    except SQLAlchemyError as error:
        raise ConversationStoreError(describe(error, operation, sender_id)) from None


# The endpoints file the Rasa server runs with (scripts/run.sh passes ENDPOINTS to both servers).
ENDPOINTS_VARIABLE = "ENDPOINTS"


@dataclass(frozen=True)
class MessageCounts:
    """What the store holds of one conversation: the user's messages, the bot's, and since when."""

    user: int
    bot: int
    first: float | None  # Unix time of the oldest stored event
    last: float | None  # ... and of the newest


def erasure_completed(tracker: DialogueStateTracker) -> bool:
    """Whether the latest turn ran the erasure action and it succeeded (it resets all slots only then)."""
    ran_erasure = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, AllSlotsReset):
            ran_erasure = True
        elif isinstance(event, ActionExecuted) and event.action_name == ERASURE_ACTION:
            return ran_erasure
    return False


class ErasableSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa makes its engine without pre-ping and offers no way to ask for it: after a database
        # restart every pooled connection is dead, and the next turn that draws one fails. A ping on
        # checkout replaces dead connections (SQLAlchemy's "pessimistic" disconnect handling).
        self.engine.pool._pre_ping = True

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_completed(tracker):
            removed = self.erase(tracker.sender_id)
            logger.info("erased a conversation on request (%d events)", removed)
            return
        with errors_without_data("saving", tracker.sender_id):
            await super().save(tracker)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Both of Rasa's ways to read a conversation (the current session, or all of it) come here."""
        with errors_without_data("reading", sender_id):
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)

    async def keys(self) -> Iterable[str]:
        with errors_without_data("listing conversations"):
            return await super().keys()

    def erase(self, sender_id: str) -> int:
        """Delete every stored event of `sender_id`; returns how many went."""
        with errors_without_data("erasing", sender_id), self.session_scope() as session:
            removed = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
        return removed

    def purge_idle(self, cutoff_timestamp: float) -> int:
        """Delete the conversations whose latest event is older than `cutoff_timestamp` (Unix time).

        One statement: a conversation that receives a message while it runs is not idle, so it stays.
        """
        events = self.SQLEvent
        idle = (
            sa.select(events.sender_id)
            .group_by(events.sender_id)
            .having(sa.func.max(events.timestamp) < cutoff_timestamp)
            .scalar_subquery()
        )
        with self.session_scope() as session:
            purge = sa.delete(events).where(events.sender_id.in_(idle)).execution_options(synchronize_session=False)
            removed = session.execute(purge).rowcount
            session.commit()
        return removed

    def message_counts(self, sender_id: str) -> MessageCounts:
        """How many of the user's and the bot's messages are stored for `sender_id`, over every session."""
        events = self.SQLEvent
        query = sa.select(
            sa.func.sum(sa.case((events.type_name == "user", 1), else_=0)),
            sa.func.sum(sa.case((events.type_name == "bot", 1), else_=0)),
            sa.func.min(events.timestamp),
            sa.func.max(events.timestamp),
        ).where(events.sender_id == sender_id)
        with errors_without_data("counting", sender_id), self.session_scope() as session:
            user, bot, first, last = session.execute(query).one()
        return MessageCounts(int(user or 0), int(bot or 0), first, last)

    def stored_events(self, sender_id: str) -> list[dict]:
        """Every stored event of `sender_id`, over every session, oldest first, as stored."""
        events = self.SQLEvent
        query = sa.select(events.data).where(events.sender_id == sender_id).order_by(events.id)
        with errors_without_data("exporting", sender_id), self.session_scope() as session:
            return [json.loads(data) for data in session.execute(query).scalars()]


@contextmanager
def _unneeded_variables_defaulted() -> Iterator[None]:
    """Rasa expands every ${VARIABLE} of an endpoints file and stops at an unset one; the tracker store
    needs neither the action servers' address nor their token (unset where the purge or an action
    server reads the file). Set empty only while the file is read: a process that starts servers
    afterwards must not hand them an empty token."""
    missing = [name for name in ("SECONDLOOK_ACTION_TOKEN", "ACTION_SERVER_URL") if name not in os.environ]
    os.environ.update(dict.fromkeys(missing, ""))
    try:
        yield
    finally:
        for name in missing:
            os.environ.pop(name, None)


def tracker_store_from(endpoints: Path) -> ErasableSQLTrackerStore:
    """The tracker store an endpoints file configures; a relative SQLite file is under the project.

    Raises ValueError when the file configures another kind of store (nothing could be erased)."""
    from rasa.utils.endpoints import read_endpoint_config

    with _unneeded_variables_defaulted():
        config = read_endpoint_config(str(endpoints), "tracker_store")
    if config is None or not config.type.endswith("ErasableSQLTrackerStore"):
        raise ValueError(f"{endpoints}: the tracker store is not stores.tracker_store.ErasableSQLTrackerStore")
    kwargs = dict(config.kwargs)
    if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db") and kwargs["db"] != ":memory:":
        kwargs["db"] = str(PROJECT_ROOT / kwargs["db"])  # an absolute path stays as it is
    return ErasableSQLTrackerStore(host=config.url, **kwargs)


def configured_endpoints() -> Path:
    """The endpoints file of this deployment: $ENDPOINTS, else the project's endpoints.yml."""
    return PROJECT_ROOT / (os.environ.get(ENDPOINTS_VARIABLE) or "endpoints.yml")

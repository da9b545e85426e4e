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

A turn's cost does not grow with the conversation. Rasa reads and replays every event of the session
on every turn, its policies then compute a state for every earlier turn (Domain.states_for_tracker_
history: about 15 ms a turn at turn 20, 200 ms at turn 300, measured on the shipped model), and the
whole tracker goes to the action server on every call. Yet the policies look at the last four turns
that they can see (max_history 4), and the rules at fewer. So, after each save, the store keeps a
snapshot of the conversation's state (slot values, the active form) with the id of the last event it
follows; a turn reads a snapshot from a few turns back and only the events written after it, and
starts the tracker from that state. The snapshot is exact (the state right after that event), so the
last turns replay as they happened. The window must hold what the policies look at: Rasa hides from
its machine-learning policies the turns that only rules know (hide_rule_turn), and folds the turns of
an active form into one, so a window starts at the `window_turns`-th newest *anchor*: a snapshot taken
after a turn those policies see, with no form running. The full history stays in the events table for
the export, the purge and erasure (which remove the snapshots too). A conversation with too few
anchors, or whose session began inside the window, is read whole, as Rasa does.
"""

import itertools
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
from rasa.shared.core.constants import ACTION_LISTEN_NAME as ACTION_LISTEN
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    LoopInterrupted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.orm import declarative_base

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


SnapshotBase = declarative_base()


class ConversationSnapshot(SnapshotBase):
    """The state of one conversation right after one of its events (see the module docstring)."""

    __tablename__ = "conversation_snapshots"
    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(255), nullable=False, index=True)
    event_id = sa.Column(sa.Integer, nullable=False)  # events.id of the last event the state includes
    anchor = sa.Column(sa.Boolean, nullable=False)  # a window may start here (see the module docstring)
    data = sa.Column(sa.Text, nullable=False)  # {"slots": {...}, "active_loop": ..., "interrupted": ..., ...}


# How many events of a tracker came from the store, so that a save writes only what was added after
# them (Rasa's own save counts the stored events of the session instead: wrong for a windowed tracker).
LOADED_EVENTS = "_secondlook_loaded_events"
# Anchors a window holds: the policies' max_history (4) and a margin for the turn before them.
DEFAULT_WINDOW_TURNS = 6


def is_anchor(tracker: DialogueStateTracker, new_events: list) -> bool:
    """Whether the policies that read history saw the turn these events end (an action no rule hid), with
    no form running after it."""
    if tracker.active_loop_name:
        return False
    return any(
        isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN and not event.hide_rule_turn
        for event in new_events
    )


def snapshot_of(tracker: DialogueStateTracker) -> dict:
    """What a tracker needs, besides its recent events, to be replayed exactly from here on."""
    slots = tracker.current_slot_values()
    initial = {slot.name: slot.initial_value for slot in tracker.slots.values()}
    loop = tracker.active_loop
    return {
        "slots": {name: value for name, value in slots.items() if value != initial.get(name)},
        "active_loop": loop.name if loop and loop.name else None,
        "interrupted": bool(loop and loop.name and loop.is_interrupted),
        "paused": tracker.is_paused(),
        "timestamp": tracker.events[-1].timestamp if tracker.events else None,
    }


def events_restoring(snapshot: dict) -> list[dict]:
    """Events that bring a new tracker to the snapshot's state (as dicts, the form Rasa replays)."""
    stamp = snapshot.get("timestamp")
    events = [SlotSet(name, value, timestamp=stamp) for name, value in snapshot["slots"].items()]
    if snapshot.get("active_loop"):
        events.append(ActiveLoop(snapshot["active_loop"], timestamp=stamp))
        if snapshot.get("interrupted"):
            events.append(LoopInterrupted(True, timestamp=stamp))
    if snapshot.get("paused"):
        events.append(ConversationPaused(timestamp=stamp))
    return [event.as_dict() for event in events]


# Any fixed 64-bit number, the same in every replica: PostgreSQL's advisory locks are named by numbers.
SNAPSHOT_TABLE_LOCK = 0x5EC0_4D_100C


def create_snapshot_table(engine: sa.engine.Engine) -> None:
    """Creates the snapshot table if it is missing, safely when several replicas start at once.

    create_all checks for the table, then creates it: two replicas starting together on a new
    PostgreSQL database both see it missing, and the second CREATE fails on PostgreSQL's catalogue
    (a duplicate pg_type row), which stopped that replica. A transaction-scoped advisory lock makes
    the check and the creation one step across processes (PostgreSQL's DDL is transactional, so the
    table is visible to the next one the moment the lock is released)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SNAPSHOT_TABLE_LOCK})
        SnapshotBase.metadata.create_all(connection)


class ErasableSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, window_turns: int = DEFAULT_WINDOW_TURNS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa makes its engine without pre-ping and offers no way to ask for it: after a database
        # restart every pooled connection is dead, and the next turn that draws one fails. A ping on
        # checkout replaces dead connections (SQLAlchemy's "pessimistic" disconnect handling).
        self.engine.pool._pre_ping = True
        # 0 reads every conversation whole, as Rasa does.
        self.window_turns = int(window_turns)
        with errors_without_data("creating the snapshot table"):
            create_snapshot_table(self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_completed(tracker):
            removed = self.erase(tracker.sender_id)
            logger.info("erased a conversation on request (%d events)", removed)
            return
        with errors_without_data("saving", tracker.sender_id):
            loaded = getattr(tracker, LOADED_EVENTS, None) or 0
            await super().save(tracker)
            setattr(tracker, LOADED_EVENTS, len(tracker.events))
            if self.window_turns and len(tracker.events) > loaded:
                anchor = is_anchor(tracker, list(itertools.islice(tracker.events, loaded, len(tracker.events))))
                self._keep_snapshot(tracker, anchor)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events added since the tracker was read (Rasa's own save calls this). A tracker the store
        did not read (a new conversation) gets Rasa's way: the stored events of the session counted."""
        loaded = getattr(tracker, LOADED_EVENTS, None)
        if loaded is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, loaded, len(tracker.events))

    def _window_start(self, session: Any, sender_id: str) -> Any:
        """The snapshot a window starts from: the `window_turns`-th newest anchor (None: too few)."""
        snapshots = ConversationSnapshot
        return session.execute(
            sa.select(snapshots.event_id, snapshots.data)
            .where(snapshots.sender_id == sender_id, snapshots.anchor.is_(True))
            .order_by(snapshots.event_id.desc())
            .offset(self.window_turns)
            .limit(1)
        ).first()

    def _keep_snapshot(self, tracker: DialogueStateTracker, anchor: bool) -> None:
        """The state after the last stored event; snapshots older than the window's start go (a later
        window starts there or later)."""
        events, snapshots = self.SQLEvent, ConversationSnapshot
        sender = tracker.sender_id
        with self.session_scope() as session:
            last_event = session.execute(sa.select(sa.func.max(events.id)).where(events.sender_id == sender)).scalar()
            state = json.dumps(snapshot_of(tracker))
            session.add(ConversationSnapshot(sender_id=sender, event_id=last_event, data=state, anchor=anchor))
            session.flush()
            start = self._window_start(session, sender)
            if start is not None:
                oldest_kept = start.event_id
                session.execute(
                    sa.delete(snapshots).where(snapshots.sender_id == sender, snapshots.event_id < oldest_kept)
                )
            session.commit()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Both of Rasa's ways to read a conversation (the current session, or all of it) come here."""
        with errors_without_data("reading", sender_id):
            if fetch_events_from_all_sessions:
                return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
            tracker = self._retrieve_window(sender_id) if self.window_turns else None
            if tracker is None:
                tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
            if tracker is not None:
                setattr(tracker, LOADED_EVENTS, len(tracker.events))
            return tracker

    def _retrieve_window(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session from the window's first snapshot; None where there is none or the session
        began after it (then the session is short, and read whole)."""
        events = self.SQLEvent
        with self.session_scope() as session:
            snapshot = self._window_start(session, sender_id)
            if snapshot is None or self.domain is None:
                return None
            session_start = session.execute(
                sa.select(sa.func.max(events.id)).where(
                    events.sender_id == sender_id, events.type_name == SessionStarted.type_name
                )
            ).scalar()
            if session_start is not None and session_start > snapshot.event_id:
                return None
            recent = session.execute(
                sa.select(events.data)
                .where(events.sender_id == sender_id, events.id > snapshot.event_id)
                .order_by(events.id)
            ).scalars()
            replay = events_restoring(json.loads(snapshot.data)) + [json.loads(data) for data in recent]
        return DialogueStateTracker.from_dict(sender_id, replay, self.domain.slots)

    async def keys(self) -> Iterable[str]:
        with errors_without_data("listing conversations"):
            return await super().keys()

    def erase(self, sender_id: str) -> int:
        """Delete every stored event of `sender_id`; returns how many went."""
        with errors_without_data("erasing", sender_id), self.session_scope() as session:
            removed = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.query(ConversationSnapshot).filter(ConversationSnapshot.sender_id == sender_id).delete()
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
            left = sa.select(events.sender_id).distinct().scalar_subquery()
            session.execute(
                sa.delete(ConversationSnapshot)
                .where(ConversationSnapshot.sender_id.not_in(left))
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return removed

    def message_counts(self, sender_id: str) -> MessageCounts:
        """How many of the user's and the bot's messages are stored for `sender_id`, over every session. A
        message read again in context is stored twice, with a `rewind` between: it counts once."""
        events = self.SQLEvent
        query = sa.select(
            sa.func.sum(sa.case((events.type_name == "user", 1), (events.type_name == "rewind", -1), else_=0)),
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

"""The erasable SQL tracker store against SQLite and the real PostgreSQL: a completed erasure deletes
every stored event of that sender and writes nothing back; other conversations are untouched; a
database failure is logged without the message text or the sender id."""

import logging
import os
import sqlite3
import time
import uuid
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, AllSlotsReset, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from channels.common import log_id
from channels.guard import answer_turn
from channels.rasa_patches import keep_conversations_in_their_store
from secondlook.paths import PROJECT_ROOT
from stores.tracker_store import (
    ConversationStoreError,
    ErasableSQLTrackerStore,
    erasure_completed,
    tracker_store_from,
)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store(request, tmp_path, domain):
    if request.param == "sqlite":
        return ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    return ErasableSQLTrackerStore(
        domain, dialect="postgresql", host="127.0.0.1", port=5432, db="test", username="postgres"
    )


def conversation(sender: str, domain: Domain, *turn_events) -> DialogueStateTracker:
    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    events += [UserUttered("hello", {"name": "greet"}), ActionExecuted("utter_greet"), BotUttered("hi")]
    events += [ActionExecuted("action_listen"), *turn_events]
    return DialogueStateTracker.from_events(sender, events, domain.slots)


def stored_rows(store: ErasableSQLTrackerStore, sender: str) -> int:
    engine = create_engine(store.engine.url, future=True)
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()


ERASURE_TURN = (UserUttered("yes", {"name": "affirm"}), ActionExecuted("action_forget_me"), AllSlotsReset())


async def test_an_ordinary_turn_is_saved(tracker_store, domain):
    sender = f"ts-{uuid.uuid4()}"
    await tracker_store.save(conversation(sender, domain))
    assert stored_rows(tracker_store, sender) == 7


async def test_a_completed_erasure_deletes_everything_of_that_sender_only(tracker_store, domain):
    sender, other = f"ts-{uuid.uuid4()}", f"ts-{uuid.uuid4()}"
    await tracker_store.save(conversation(sender, domain))
    await tracker_store.save(conversation(other, domain))
    erasing = conversation(sender, domain, *ERASURE_TURN, BotUttered("Done, deleted."))
    await tracker_store.save(erasing)
    assert stored_rows(tracker_store, sender) == 0
    assert stored_rows(tracker_store, other) == 7
    # Rasa saving the same in-memory tracker again must not bring the events back
    await tracker_store.save(erasing)
    assert stored_rows(tracker_store, sender) == 0
    assert await tracker_store.retrieve(sender) is None


async def test_a_failed_erasure_keeps_the_conversation(tracker_store, domain):
    sender = f"ts-{uuid.uuid4()}"
    failed = conversation(sender, domain, UserUttered("yes", {"name": "affirm"}), ActionExecuted("action_forget_me"))
    await tracker_store.save(failed)
    assert stored_rows(tracker_store, sender) == 9


def test_only_the_latest_turn_counts(domain):
    erased_long_ago = conversation("x", domain, *ERASURE_TURN, UserUttered("hi again", {"name": "greet"}))
    assert erasure_completed(erased_long_ago) is False
    assert erasure_completed(conversation("x", domain, *ERASURE_TURN)) is True


def at(moment: float, *events):
    for event in events:
        event.timestamp = moment
    return events


async def test_purge_removes_only_idle_conversations(tracker_store, domain):
    idle, active = f"ts-{uuid.uuid4()}", f"ts-{uuid.uuid4()}"
    long_ago = time.time() - 400 * 86400
    old_turn = at(long_ago, UserUttered("hello", {"name": "greet"}), ActionExecuted("utter_greet"))
    await tracker_store.save(DialogueStateTracker.from_events(idle, list(old_turn), domain.slots))
    # an active conversation that started long ago but had a message today stays whole
    await tracker_store.save(
        DialogueStateTracker.from_events(
            active, [*at(long_ago, UserUttered("hi", {"name": "greet"})), UserUttered("again")], domain.slots
        )
    )
    assert tracker_store.purge_idle(time.time() - 180 * 86400) == 2
    assert stored_rows(tracker_store, idle) == 0
    assert stored_rows(tracker_store, active) == 2


# --- a failed save leaves no personal data in the log ---------------------------------------------

SECRET_TEXT = "the biopsy says stage 3 lymphoma"


async def failed_turn_log(store: ErasableSQLTrackerStore, sender: str, domain: Domain, caplog) -> str:
    """Everything logged, at every level, while a turn's save fails inside Rasa's fail-safe wrapper with
    our error callback (channels/rasa_patches.py), the turn running through the channels' `answer_turn`."""
    fail_safe = FailSafeTrackerStore(store)
    await keep_conversations_in_their_store(
        SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=fail_safe)))
    )
    tracker = conversation(sender, domain, UserUttered(SECRET_TEXT, {"name": "doubt_diagnosis"}))

    async def rasa_handles(_message: UserMessage) -> None:
        await fail_safe.save(tracker)

    output = CollectingOutputChannel()
    with caplog.at_level(logging.DEBUG):
        assert not await answer_turn(rasa_handles, UserMessage(SECRET_TEXT, output, sender))
    assert output.messages  # the honest reply went out
    return caplog.text


def assert_no_personal_data(log: str, sender: str) -> None:
    assert SECRET_TEXT not in log and "lymphoma" not in log
    assert sender not in log and sender[:24] not in log
    assert "failed" in log and log_id(sender) in log and "INSERT INTO events" in log  # the failure, described


async def test_a_save_that_fails_on_a_locked_sqlite_database_is_logged_without_text_or_sender(tmp_path, domain, caplog):
    store = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    sender = f"0f3c{uuid.uuid4().hex[:28]}"  # a web chat session id: it works like a password
    holder = sqlite3.connect(tmp_path / "tracker.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database: the save times out (5 s)
    try:
        log = await failed_turn_log(store, sender, domain, caplog)
    finally:
        holder.rollback()
        holder.close()
    assert_no_personal_data(log, sender)
    assert "OperationalError" in log


async def test_a_save_that_postgresql_refuses_is_logged_without_text_or_sender(domain, caplog):
    store = ErasableSQLTrackerStore(
        domain, dialect="postgresql", host="127.0.0.1", port=5432, db="test", username="postgres"
    )
    sender = f"ts-{uuid.uuid4().hex}" * 8  # longer than the sender_id column: PostgreSQL refuses the insert
    log = await failed_turn_log(store, sender, domain, caplog)
    assert_no_personal_data(log, sender)
    assert "SQLSTATE 22001" in log  # string data right truncation


async def test_a_read_that_fails_names_the_conversation_by_its_hash(tmp_path, domain):
    store = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    with sqlite3.connect(tmp_path / "tracker.db") as connection:
        connection.execute("DROP TABLE events")
    with pytest.raises(ConversationStoreError) as failed:
        await store.retrieve("private-sender-id")
    assert "private-sender-id" not in str(failed.value) and log_id("private-sender-id") in str(failed.value)
    assert failed.value.__suppress_context__  # a traceback does not show the original error either


def test_reading_an_endpoints_file_leaves_the_environment_as_it_was(tmp_path, monkeypatch):
    """The purge and the action server read the tracker store from an endpoints file that also names
    the action token; the variables it defaults for that must not stay behind, empty, for a process
    that starts servers afterwards (an empty token stops the action server)."""
    monkeypatch.delenv("SECONDLOOK_ACTION_TOKEN", raising=False)
    monkeypatch.delenv("ACTION_SERVER_URL", raising=False)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        'action_endpoint:\n  url: "${ACTION_SERVER_URL}"\n'
        "  headers:\n    Authorization: Bearer ${SECONDLOOK_ACTION_TOKEN}\n"
        f"tracker_store:\n  type: stores.tracker_store.ErasableSQLTrackerStore\n  dialect: sqlite\n"
        f"  db: {tmp_path / 'tracker.db'}\n"
    )
    assert tracker_store_from(endpoints).message_counts("nobody").user == 0
    assert "SECONDLOOK_ACTION_TOKEN" not in os.environ and "ACTION_SERVER_URL" not in os.environ

"""The erasable SQL tracker store against SQLite and the real PostgreSQL: a completed erasure deletes
every stored event of that sender and writes nothing back; other conversations are untouched."""

import time
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, AllSlotsReset, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from stores.tracker_store import ErasableSQLTrackerStore, erasure_completed
from tests.conftest import PROJECT_ROOT


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

"""A turn reads a bounded window of the conversation (stores/tracker_store.py): the snapshot of a few
saves ago and the events after it. What the policies and the actions see must be what a full replay
gives, turn after turn, through forms, slot changes and a new session; nothing stored is lost or
doubled; erasure and the purge remove the snapshots with the events. Against SQLite and PostgreSQL."""

import json
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sqlalchemy import create_engine, text

from secondlook.paths import PROJECT_ROOT
from stores.tracker_store import ErasableSQLTrackerStore

WINDOW = 5
MAX_HISTORY = 4  # the policies' max_history in config.yml


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def store_for(dialect: str, tmp_path, domain: Domain, window_turns: int, name: str) -> ErasableSQLTrackerStore:
    if dialect == "sqlite":
        return ErasableSQLTrackerStore(
            domain, dialect="sqlite", db=str(tmp_path / f"{name}.db"), window_turns=window_turns
        )
    return ErasableSQLTrackerStore(
        domain,
        dialect="postgresql",
        host="127.0.0.1",
        port=5432,
        db="test",
        username="postgres",
        window_turns=window_turns,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path, domain):
    """A windowed store and one that reads every conversation whole, as Rasa does."""
    return (
        store_for(request.param, tmp_path, domain, WINDOW, "windowed"),
        store_for(request.param, tmp_path, domain, 0, "whole"),
    )


def turn_events(number: int) -> list:
    """One turn of a long conversation: progress, step advice, a rehearsal (a form) in the middle,
    and a reset of every slot, so that slots change inside and outside the window."""
    steps = ["ask_doctor", "be_honest", "outside_network", "move_on", "after_opinion"]
    events = [UserUttered(f"message {number}", {"name": "next_step", "confidence": 0.9})]
    if number == 9:
        events += [
            ActionExecuted("rehearsal_form"),
            ActiveLoop("rehearsal_form"),
            SlotSet("requested_slot", "rehearsal_line"),
        ]
    elif 9 < number < 15:
        events += [ActionExecuted("rehearsal_form"), SlotSet("rehearsal_line", f"line {number}")]
    elif number == 15:
        events += [ActionExecuted("rehearsal_form"), ActiveLoop(None), SlotSet("requested_slot", None)]
    elif number == 21:
        events += [ActionExecuted("action_forget_nothing"), AllSlotsReset()]
    else:
        # every third turn is one that only a rule knows: hidden from the ML policies' history
        events += [ActionExecuted("action_next_step", hide_rule_turn=number % 3 == 0)]
        events.append(SlotSet("current_step", steps[number % 5]))
        if number % 4 == 0:
            events.append(SlotSet("completed_steps", steps[: number % 5 + 1]))
    events += [BotUttered(f"reply {number}"), ActionExecuted("action_listen")]
    return events


def own(store: ErasableSQLTrackerStore, sender: str) -> str:
    """The stores may share one PostgreSQL database: each keeps the conversation under its own id."""
    return sender if store.window_turns else f"{sender}-whole"


async def take_turn(store: ErasableSQLTrackerStore, sender: str, events: list, domain: Domain):
    sender = own(store, sender)
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = store.init_tracker(sender)
        for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
            tracker.update(event, domain)
    for event in events:
        tracker.update(event, domain)
    await store.save(tracker)


def stored(store: ErasableSQLTrackerStore, table: str, sender: str) -> list:
    engine = create_engine(store.engine.url, future=True)
    column = "data" if table == "events" else "event_id"
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT {column} FROM {table} WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).scalars()
        return [json.loads(row) if table == "events" else row for row in rows]


def comparable(event: dict) -> dict:
    return {key: value for key, value in event.items() if key != "timestamp"}


async def test_every_turn_sees_what_a_full_replay_sees(stores, domain):
    windowed, whole = stores
    sender = f"window-{uuid.uuid4().hex}"
    for number in range(1, 31):
        if number == 25:  # a new session: both read only the new one
            session = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
            for store in stores:
                tracker = await store.retrieve(own(store, sender))
                for event in session:
                    tracker.update(event, domain)
                await store.save(tracker)
        for store in stores:
            await take_turn(store, sender, turn_events(number), domain)
        short, full = await windowed.retrieve(sender), await whole.retrieve(own(whole, sender))
        assert short.current_slot_values() == full.current_slot_values(), number
        assert short.active_loop_name == full.active_loop_name, number
        assert short.latest_message.text == full.latest_message.text
        for ml_view in (False, True):  # the rules' view, and the view of TED and memoization
            tail = -(MAX_HISTORY + 1)
            assert (
                short.past_states(domain, ignore_rule_only_turns=ml_view)[tail:]
                == full.past_states(domain, ignore_rule_only_turns=ml_view)[tail:]
            ), number
        if number == 24:
            # bounded: a few turns and the restored state, where Rasa's own reading holds the whole session
            assert len(short.events) < 60 < 100 < len(full.events)
    assert full.active_loop_name is None and short.current_slot_values()["current_step"] == "ask_doctor"
    # the store holds every event once, in order, whatever the turns read
    windowed_events, whole_events = stored(windowed, "events", sender), stored(whole, "events", own(whole, sender))
    assert [comparable(e) for e in windowed_events] == [comparable(e) for e in whole_events]
    assert len(windowed_events) == 3 + 3 + sum(len(turn_events(n)) for n in range(1, 31))
    # only the snapshots from the window's start on are kept (one a save; the last window: 9 saves)
    assert 0 < len(stored(windowed, "conversation_snapshots", sender)) <= 2 * WINDOW < 30


async def test_a_long_running_form_keeps_the_turns_before_it(stores, domain):
    windowed, whole = stores
    sender = f"form-{uuid.uuid4().hex}"
    for number in range(1, 14):  # the form starts at turn 9 and is still running at the end
        for store in stores:
            await take_turn(store, sender, turn_events(number), domain)
    for number in range(1, 2 * WINDOW):
        await take_turn(
            windowed,
            sender,
            [
                UserUttered(f"x{number}", {"name": "affirm"}),
                ActionExecuted("rehearsal_form"),
                BotUttered("go on"),
                ActionExecuted("action_listen"),
            ],
            domain,
        )
    tracker = await windowed.retrieve(sender)
    assert tracker.active_loop_name == "rehearsal_form"
    assert tracker.get_slot("requested_slot") == "rehearsal_line" and tracker.get_slot("rehearsal_line") == "line 13"
    assert not any(isinstance(event, SessionStarted) for event in tracker.events)  # started from a snapshot


async def test_erasure_and_the_purge_remove_the_snapshots(stores, domain):
    windowed, _ = stores
    erased, idle, kept = (f"{name}-{uuid.uuid4().hex}" for name in ("erased", "idle", "kept"))
    for sender in (erased, idle, kept):
        for number in range(1, WINDOW + 4):
            await take_turn(windowed, sender, turn_events(number), domain)
        assert stored(windowed, "conversation_snapshots", sender)
    windowed.erase(erased)
    assert stored(windowed, "conversation_snapshots", erased) == [] and stored(windowed, "events", erased) == []
    engine = create_engine(windowed.engine.url, future=True)
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET timestamp = 1 WHERE sender_id = :s"), {"s": idle})
    windowed.purge_idle(cutoff_timestamp=100)
    assert stored(windowed, "conversation_snapshots", idle) == [] and stored(windowed, "events", idle) == []
    assert stored(windowed, "conversation_snapshots", kept) and await windowed.retrieve(kept) is not None


def test_replicas_starting_together_on_a_new_database_all_get_the_snapshot_table():
    """Two replicas start at once on a new PostgreSQL database (the scale-out test, a deploy): each
    creates the snapshot table if it is missing. Without a lock the second CREATE failed on
    PostgreSQL's catalogue and that replica never came up. Several rounds of four at once."""
    import threading

    from secondlook.devtools.databases import throwaway_database
    from stores.tracker_store import create_snapshot_table

    starters = 4
    for _ in range(4):
        with throwaway_database("secondlook_race") as database:
            engines = [
                create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}", future=True)
                for _ in range(starters)
            ]
            barrier = threading.Barrier(starters)
            failures: list[BaseException] = []

            def start(engine, barrier=barrier, failures=failures) -> None:
                barrier.wait()
                try:
                    create_snapshot_table(engine)
                except BaseException as error:  # noqa: BLE001 - the test reports every failure
                    failures.append(error)

            threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            try:
                assert not failures, failures
                with engines[0].connect() as connection:
                    assert connection.execute(text("SELECT count(*) FROM conversation_snapshots")).scalar() == 0
            finally:
                for engine in engines:
                    engine.dispose()

"""Faults with real processes: the action server killed with SIGKILL mid-conversation, the database
(tracker store and progress, both PostgreSQL, as in production) going away and coming back, the Rasa
server restarted between turns and stopped with SIGTERM during a turn. Each time the user gets an
answer, and no stored event is lost (checked in the tracker store itself).

The action server and PostgreSQL are reached through TCP proxies (tests/faults.py), so "the database
is down" is real for both servers without touching the PostgreSQL others use."""

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from channels.guard import texts
from secondlook.devtools.databases import throwaway_database
from secondlook.devtools.servers import ACTION_ENDPOINT_HEADERS, API_TOKEN, BotProcesses, reply_text
from tests.conftest import POSTGRES_URL
from tests.faults import TcpProxy

ACTION_FAILED = texts()["action_failed"]
TURN_FAILED = texts()["turn_failed"]
STORE_UNAVAILABLE = "I couldn't reach your saved progress just now"


@pytest.fixture(scope="module")
def database():
    """A database of its own on the local PostgreSQL, dropped afterwards."""
    with throwaway_database("secondlook_faults") as name:
        yield name


@pytest.fixture(scope="module")
def tracker_db():
    """The tracker store's way to PostgreSQL."""
    proxy = TcpProxy(5432).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def progress_db():
    """The progress database's way to PostgreSQL (the action server's)."""
    proxy = TcpProxy(5432).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, database, tracker_db, progress_db):
    workdir: Path = tmp_path_factory.mktemp("faults")
    processes = BotProcesses(
        workdir,
        env={"DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{progress_db.port}/{database}"},
        endpoints=workdir / "endpoints.yml",
    )
    action_proxy = TcpProxy(processes.action_port).start()
    processes.endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_proxy.port}/webhook"\n{ACTION_ENDPOINT_HEADERS}'
        "tracker_store:\n  type: stores.tracker_store.ErasableSQLTrackerStore\n"
        f"  dialect: postgresql\n  url: 127.0.0.1\n  port: {tracker_db.port}\n  db: {database}\n"
        "  username: postgres\n"
    )
    processes.action_proxy = action_proxy
    try:
        yield processes.start()
    finally:
        processes.stop()
        action_proxy.stop()


@pytest.fixture
def sender() -> str:
    return f"faults-{uuid.uuid4().hex}"


def stored_events(database: str, sender: str) -> list[tuple[str, str | None]]:
    """(type, action or intent) of every event stored for `sender`, in order, read directly from PostgreSQL."""
    engine = create_engine(POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}", future=True)
    try:
        with engine.connect() as connection:
            query = "SELECT type_name, coalesce(action_name, intent_name) FROM events WHERE sender_id = :s ORDER BY id"
            rows = connection.execute(text(query), {"s": sender})
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def slots(bot: BotProcesses, sender: str) -> dict:
    tracker = requests.get(f"{bot.url}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=30)
    tracker.raise_for_status()
    return tracker.json()["slots"]


def timed_say(bot: BotProcesses, sender: str, message: str) -> tuple[str, float]:
    started = time.monotonic()
    replies = bot.say(sender, message)
    return reply_text(replies), time.monotonic() - started


def test_a_killed_action_server_gets_an_honest_reply_and_the_conversation_goes_on(bot, sender):
    bot.say(sender, "hi")
    assert "ticked off step 1" in reply_text(bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}'))
    before = slots(bot, sender)

    os.killpg(bot.action_server.pid, signal.SIGKILL)
    bot.action_server.wait(timeout=10)
    reply, seconds = timed_say(bot, sender, "where am I?")
    assert reply.strip() == ACTION_FAILED  # once, and nothing else
    assert seconds < 5
    assert slots(bot, sender) == before  # the failed action changed nothing

    bot.start_action_server()
    reply = reply_text(bot.say(sender, "where am I?"))
    assert "✅ 1. Ask your doctor first" in reply and "1 of 5 steps done." in reply
    assert "ticked off step 2" in reply_text(bot.say(sender, '/report_progress{"journey_step":"be_honest"}'))


def test_the_database_going_away_gets_an_honest_reply_and_nothing_stored_is_lost(
    bot, sender, database, tracker_db, progress_db
):
    bot.say(sender, "hi")
    bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    stored = stored_events(database, sender)
    assert ("action", "action_report_progress") in stored

    tracker_db.stop()
    progress_db.stop()
    try:
        reply, seconds = timed_say(bot, sender, "where am I?")
        assert reply.strip() == TURN_FAILED  # the tracker store is down: the turn can't even start
        assert seconds < 10
    finally:
        tracker_db.start()
        progress_db.start()

    reply = reply_text(bot.say(sender, "where am I?"))
    assert "✅ 1. Ask your doctor first" in reply
    after = stored_events(database, sender)
    assert after[: len(stored)] == stored  # everything from before the outage is still there
    assert ("action", "action_show_progress") in after[len(stored) :]


def test_the_progress_database_down_is_said_once_and_the_conversation_recovers(bot, sender, progress_db):
    bot.say(sender, "hi")
    bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    before = slots(bot, sender)

    progress_db.stop()
    try:
        reply, seconds = timed_say(bot, sender, "where am I?")
    finally:
        progress_db.start()
    assert reply.count(STORE_UNAVAILABLE) == 1
    assert "✅ 1. Ask your doctor first" in reply  # from what the conversation already knew
    assert seconds < 10
    assert slots(bot, sender)["completed_steps"] == before["completed_steps"]

    reply = reply_text(bot.say(sender, "where am I?"))
    assert STORE_UNAVAILABLE not in reply and "✅ 1. Ask your doctor first" in reply


def test_a_database_blip_cuts_connections_and_the_pools_reconnect(bot, sender, tracker_db, progress_db):
    bot.say(sender, "hi")
    bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    for proxy in (tracker_db, progress_db):
        proxy.stop()  # every open connection is reset ...
        proxy.start()  # ... and the server is back at once
    reply = reply_text(bot.say(sender, "where am I?"))
    assert STORE_UNAVAILABLE not in reply and TURN_FAILED not in reply
    assert "✅ 1. Ask your doctor first" in reply


def test_sigterm_finishes_the_turn_in_flight_and_the_restarted_server_loses_no_event(bot, sender, database):
    bot.say(sender, "hi")
    bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    bot.action_proxy.delay = 3.0  # the action server answers slowly: the next turn is in flight for ~3 s
    result: dict = {}

    def turn() -> None:
        try:
            result["response"] = requests.post(
                f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": "where am I?"}, timeout=60
            )
        except requests.RequestException as error:
            result["error"] = error

    worker = threading.Thread(target=turn)
    try:
        worker.start()
        time.sleep(1.0)
        os.killpg(bot.rasa_server.pid, signal.SIGTERM)
        worker.join(timeout=60)
        bot.rasa_server.wait(timeout=60)
    finally:
        bot.action_proxy.delay = 0.0

    assert "error" not in result, result.get("error")
    assert result["response"].status_code == 200
    assert "1 of 5 steps done." in reply_text(result["response"].json())
    stored = stored_events(database, sender)
    assert ("action", "action_show_progress") in stored  # the turn was saved before the server exited

    bot.start_rasa_server()
    assert "Step 2 of 5" in reply_text(bot.say(sender, "what's next?"))  # the conversation goes on
    after = stored_events(database, sender)
    assert after[: len(stored)] == stored  # and nothing stored before the restart is lost
    assert ("action", "action_next_step") in after[len(stored) :]

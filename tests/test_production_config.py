"""The production configuration for real: deploy/endpoints.production.yml with the PostgreSQL and Redis
on this machine, every setting from the environment, progress in PostgreSQL too."""

import time
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from secondlook.devtools.databases import throwaway_database
from secondlook.devtools.servers import BotProcesses, reply_text
from secondlook.paths import PROJECT_ROOT
from secondlook.progress_store import ProgressStore


@pytest.fixture(scope="module")
def production_database():
    """A database of its own on the local PostgreSQL, dropped afterwards."""
    with throwaway_database("secondlook_e2e") as name:
        yield name


@pytest.fixture(scope="module")
def production_bot(tmp_path_factory, production_database):
    env = {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "5432",
        "DB_NAME": production_database,
        "DB_USER": "postgres",
        "DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{production_database}",
    }
    processes = BotProcesses(
        tmp_path_factory.mktemp("production"), env=env, endpoints=PROJECT_ROOT / "deploy" / "endpoints.production.yml"
    )
    try:
        yield processes.start()
    finally:
        processes.stop()


def test_conversations_and_progress_go_to_postgresql(production_bot, production_database):
    sender = f"prod-{uuid.uuid4().hex}"
    assert "Step 1 of 5" in reply_text(production_bot.say(sender, "I doubt my diagnosis"))
    production_bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')

    database_url = production_bot.env["DATABASE_URL"]
    engine = create_engine(database_url, future=True)
    with engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
    engine.dispose()
    assert events > 5
    assert ProgressStore(database_url).completed_steps(sender) == ["ask_doctor"]


def test_the_lock_store_is_redis(production_bot):
    """Each turn takes and releases its conversation's lock in Redis: watch the key events."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    client.config_set("notify-keyspace-events", "KA")
    watcher = client.pubsub()
    watcher.psubscribe("__keyspace@*__:secondlook*")  # Rasa uses Redis db 1 by default
    sender = f"prod-{uuid.uuid4().hex}"
    production_bot.say(sender, "hello")
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(seen) < 2:
        message = watcher.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            seen.append((message["channel"].decode(), message["data"].decode()))
    watcher.close()
    assert any(sender in channel for channel, _ in seen), f"no lock of this conversation seen in Redis: {seen}"


def test_progress_survives_a_server_restart_in_production(production_bot):
    sender = f"prod-{uuid.uuid4().hex}"
    production_bot.say(sender, '/report_progress{"journey_step":"be_honest"}')
    production_bot.stop_rasa_server()
    production_bot.start_rasa_server()
    assert "✅ 2. Be honest about why" in reply_text(production_bot.say(sender, "where am I?"))


def test_forget_me_leaves_nothing_in_postgresql(production_bot):
    sender = f"prod-{uuid.uuid4().hex}"
    production_bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    production_bot.say(sender, "delete my data")
    assert "deleted" in reply_text(production_bot.say(sender, "/affirm"))
    store = ProgressStore(production_bot.env["DATABASE_URL"])
    engine = create_engine(production_bot.env["DATABASE_URL"], future=True)
    with engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
        progress = connection.execute(
            text("SELECT count(*) FROM journeys WHERE user_key = :k"), {"k": store.user_key(sender)}
        ).scalar()
    engine.dispose()
    assert (events, progress) == (0, 0)

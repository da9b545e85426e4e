"""The progress store against real databases: SQLite (the default) and PostgreSQL (production)."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from secondlook.progress_schema import metadata
from secondlook.progress_store import (
    DEFAULT_DATABASE_URL,
    ProgressStore,
    database_url_from_environment,
    migrate,
)
from tests.conftest import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'progress.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def any_store(database_url):
    store = ProgressStore(database_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def sender() -> str:
    return f"sender-{uuid.uuid4()}"


def test_a_new_user_has_no_progress(any_store, sender):
    assert any_store.completed_steps(sender) == []
    assert any_store.current_step(sender) is None


def test_steps_done_are_kept_once_in_completion_order(any_store, sender):
    assert any_store.mark_done(sender, "be_honest") is True
    assert any_store.mark_done(sender, "ask_doctor") is True
    assert any_store.mark_done(sender, "be_honest") is False
    assert any_store.completed_steps(sender) == ["be_honest", "ask_doctor"]


def test_current_step_is_remembered(any_store, sender):
    any_store.set_current_step(sender, "outside_network")
    any_store.set_current_step(sender, "move_on")
    assert any_store.current_step(sender) == "move_on"


def test_progress_survives_a_new_connection(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    reopened = ProgressStore(any_store.engine.url.render_as_string(hide_password=False))
    assert reopened.completed_steps(sender) == ["ask_doctor"]


def test_users_do_not_see_each_other(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    assert any_store.completed_steps(sender + "-other") == []


def test_the_sender_id_is_never_stored_in_clear(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    any_store.set_current_step(sender, "be_honest")
    with any_store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT user_key FROM completed_steps UNION SELECT user_key FROM journeys")
        ).all()
    keys = {row[0] for row in rows}
    assert any_store.user_key(sender) in keys
    assert not any(sender in key for key in keys)


def test_the_hash_depends_on_the_salt(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert ProgressStore(url, "one").user_key("alice") != ProgressStore(url, "two").user_key("alice")


def test_export_lists_everything_with_timestamps(any_store, sender):
    any_store.set_current_step(sender, "be_honest")
    any_store.mark_done(sender, "ask_doctor")
    exported = any_store.export(sender)
    assert exported["current_step"] == "be_honest"
    assert [row["step"] for row in exported["completed_steps"]] == ["ask_doctor"]
    assert exported["completed_steps"][0]["completed_at"].endswith("+00:00")
    assert exported["first_seen"] and exported["last_updated"]


def test_forget_deletes_every_row_of_that_user_only(any_store, sender):
    other = sender + "-other"
    for who in (sender, other):
        any_store.mark_done(who, "ask_doctor")
        any_store.set_current_step(who, "be_honest")
    any_store.add_note(sender, "specialist", "Dr Rivera, university hospital")
    any_store.record_safety_event(sender, "medical_emergency", "screen")
    any_store.record_rehearsal(sender, "ask_opinion", "rushed", 3, True)
    assert any_store.forget(sender) == 6  # journey, step, history, note, safety event, rehearsal
    assert_nothing_left(any_store, sender)
    assert any_store.completed_steps(other) == ["ask_doctor"]


def test_the_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert str(ProgressStore.from_environment().engine.url) == url
    monkeypatch.delenv("DATABASE_URL")
    assert database_url_from_environment() == DEFAULT_DATABASE_URL


def test_postgres_really_is_postgres():
    engine = create_engine(POSTGRES_URL, future=True)
    with engine.connect() as connection:
        assert "PostgreSQL" in connection.execute(text("SELECT version()")).scalar()


def assert_nothing_left(store: ProgressStore, sender: str) -> None:
    key = store.user_key(sender)
    with store.engine.connect() as connection:
        for table in ("journeys", "completed_steps", "step_history", "notes", "safety_events", "rehearsals"):
            count = connection.execute(text(f"SELECT count(*) FROM {table} WHERE user_key = :k"), {"k": key}).scalar()
            assert count == 0, table


def test_history_keeps_every_change_in_order(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    any_store.mark_done(sender, "be_honest")
    any_store.mark_done(sender, "ask_doctor")  # no change, no history
    assert [(row["step"], row["change"]) for row in any_store.history(sender)] == [
        ("ask_doctor", "done"),
        ("be_honest", "done"),
    ]


def test_notes_are_kept_capped_and_exported(any_store, sender):
    any_store.add_note(sender, "specialist", "Dr Okafor at St Mary's")
    any_store.add_note(sender, "question", "x" * 2000)
    kept = any_store.export(sender)["notes"]
    assert [note["topic"] for note in kept] == ["specialist", "question"]
    assert kept[0]["text"] == "Dr Okafor at St Mary's"
    assert len(kept[1]["text"]) == 500


def test_export_holds_this_users_data_and_no_one_elses(any_store, sender):
    other = sender + "-other"
    any_store.mark_done(other, "move_on")
    any_store.add_note(other, "specialist", "someone else's note")
    any_store.mark_done(sender, "ask_doctor")
    exported = any_store.export(sender)
    assert "move_on" not in repr(exported) and "someone else" not in repr(exported)
    assert exported["user_key"] == any_store.user_key(sender)


def test_purge_removes_only_idle_users(any_store, sender):
    idle, active = sender + "-idle", sender + "-active"
    for who in (idle, active):
        any_store.mark_done(who, "ask_doctor")
        any_store.record_safety_event(who, "self_harm", "screen")
    long_ago = datetime.now(timezone.utc) - timedelta(days=400)
    with any_store.engine.begin() as connection:
        connection.execute(
            text("UPDATE journeys SET updated_at = :t WHERE user_key = :k"),
            {"t": long_ago, "k": any_store.user_key(idle)},
        )
    assert any_store.purge_idle(datetime.now(timezone.utc) - timedelta(days=180)) == 1
    assert_nothing_left(any_store, idle)
    assert any_store.completed_steps(active) == ["ask_doctor"]
    assert any_store.export(active)["safety_events"]


def test_telegram_message_ids_are_kept_hashed_for_48_hours_then_purged(any_store, sender):
    now = datetime.now(timezone.utc)
    any_store.record_telegram_message(sender, 11, now - timedelta(hours=47))
    any_store.record_telegram_message(sender, 12, now - timedelta(minutes=1))
    any_store.record_telegram_message(sender + "-other", 13, now)
    assert any_store.telegram_messages(sender) == [11, 12]
    assert any_store.telegram_messages(sender, now=now + timedelta(hours=2)) == [12]  # 11 is past 48 h
    with any_store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM telegram_messages")).mappings().all()
    assert {row["user_key"] for row in rows} == {any_store.user_key(sender), any_store.user_key(sender + "-other")}
    assert set(rows[0].keys()) == {"id", "user_key", "message_id", "sent_at"}  # no text, no chat id
    assert any_store.purge_telegram_messages(now=now + timedelta(hours=2)) == 1
    any_store.record_telegram_message(sender, 14, now - timedelta(hours=49))  # recording purges what expired
    assert any_store.telegram_messages(sender, now=now - timedelta(hours=50)) == [12]
    assert any_store.forget_telegram_messages(sender) == 1
    assert any_store.telegram_messages(sender) == [] and any_store.telegram_messages(sender + "-other") == [13]


def test_concurrent_reports_of_one_user_lose_nothing(any_store, sender):
    """Two conversations of the same user (say, phone and laptop) report steps at the same moment."""
    steps = ["ask_doctor", "be_honest", "outside_network", "move_on", "after_opinion"] * 4
    barrier = threading.Barrier(len(steps))

    def report(step: str) -> bool:
        barrier.wait()
        return any_store.mark_done(sender, step)

    with ThreadPoolExecutor(len(steps)) as pool:
        newly_done = list(pool.map(report, steps))
    assert sorted(any_store.completed_steps(sender)) == sorted(set(steps))
    assert sum(newly_done) == 5  # each step counted exactly once
    assert len(any_store.history(sender)) == 5


def test_migrations_run_up_from_empty_and_from_the_previous_revision(database_url):
    engine = create_engine(database_url, future=True)
    migrate(engine, "0002")
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert {"journeys", "completed_steps", "safety_events"} <= tables
        assert "step_history" not in tables
    with engine.begin() as connection:  # data written under the previous revision survives the upgrade
        connection.execute(
            text("INSERT INTO completed_steps (user_key, step_id, completed_at) VALUES ('k', 'ask_doctor', :t)"),
            {"t": datetime.now(timezone.utc)},
        )
    store = ProgressStore(database_url)  # opening the store applies the rest
    with engine.connect() as connection:
        assert {"step_history", "notes"} <= set(inspect(connection).get_table_names())
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"
        assert connection.execute(text("SELECT count(*) FROM completed_steps")).scalar() == 1
    ProgressStore(database_url)  # and a second start is a no-op
    store.engine.dispose()
    engine.dispose()


def test_the_models_match_the_migrations(database_url):
    """The SQLAlchemy tables the code uses are exactly what the migrations create."""
    engine = create_engine(database_url, future=True)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_rehearsals_are_recorded_in_order(any_store, sender):
    any_store.record_rehearsal(sender, "ask_opinion", "supportive", 4, True)
    any_store.record_rehearsal(sender, "defensive", "defensive", 1, False)
    kept = any_store.rehearsals(sender)
    assert [(r["scenario"], r["temperament"], r["lines"], r["finished"]) for r in kept] == [
        ("ask_opinion", "supportive", 4, True),
        ("defensive", "defensive", 1, False),
    ]
    assert any_store.export(sender)["rehearsals"] == kept

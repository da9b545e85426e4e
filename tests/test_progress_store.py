"""The progress store against real databases: SQLite (the default) and PostgreSQL (production)."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from actions.progress_store import DEFAULT_DATABASE_URL, ProgressStore

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        return ProgressStore(f"sqlite:///{tmp_path / 'progress.db'}")
    return ProgressStore(POSTGRES_URL)


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


def test_a_step_can_be_undone(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    assert any_store.mark_undone(sender, "ask_doctor") is True
    assert any_store.mark_undone(sender, "ask_doctor") is False
    assert any_store.completed_steps(sender) == []


def test_current_step_is_remembered(any_store, sender):
    any_store.set_current_step(sender, "outside_network")
    any_store.set_current_step(sender, "move_on")
    assert any_store.current_step(sender) == "move_on"


def test_progress_survives_a_new_connection(any_store, sender):
    any_store.mark_done(sender, "ask_doctor")
    reopened = ProgressStore(str(any_store.engine.url))
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
    assert any_store.forget(sender) == 2
    assert any_store.export(sender)["completed_steps"] == []
    assert any_store.export(sender)["current_step"] is None
    assert any_store.completed_steps(other) == ["ask_doctor"]


def test_the_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert str(ProgressStore.from_environment().engine.url) == url
    monkeypatch.delenv("DATABASE_URL")
    assert str(ProgressStore.from_environment().engine.url) == DEFAULT_DATABASE_URL


def test_postgres_really_is_postgres():
    engine = create_engine(POSTGRES_URL, future=True)
    with engine.connect() as connection:
        assert "PostgreSQL" in connection.execute(text("SELECT version()")).scalar()

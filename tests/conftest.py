"""Shared fixtures: real Rasa SDK objects (Tracker, CollectingDispatcher, the project's domain) and a
progress store on a throw-away SQLite file."""

import time
import uuid
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from secondlook import progress_store
from secondlook.paths import PROJECT_ROOT
from secondlook.progress_store import ProgressStore

# The PostgreSQL this machine (and CI) runs; every test gets a schema of its own on it.
POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL schema, dropped afterwards: real PostgreSQL, isolated per test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def store(tmp_path, monkeypatch) -> ProgressStore:
    """The store the actions use, on a fresh SQLite file."""
    fresh = ProgressStore(f"sqlite:///{tmp_path / 'progress.db'}")
    monkeypatch.setattr(progress_store, "_store", fresh)
    return fresh


@pytest.fixture
def store_down(store, monkeypatch):
    """Makes one method of the actions' store fail as an unreachable database does: store_down("forget")."""

    def fail(method: str) -> None:
        def unreachable(*args, **kwargs):
            raise OperationalError("SELECT", {}, Exception("database is down"))

        monkeypatch.setattr(store, method, unreachable)

    return fail


@pytest.fixture
def conversations(tmp_path, monkeypatch):
    """The tracker store "what do you keep about me?" reads (actions/privacy_actions.py), on a fresh
    SQLite file named by an endpoints file in $ENDPOINTS, as in production; retention set to 45 days."""
    from rasa.shared.core.domain import Domain

    from actions.privacy_actions import _tracker_store
    from stores.tracker_store import ErasableSQLTrackerStore

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: stores.tracker_store.ErasableSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp_path / 'tracker.db'}\n"
    )
    monkeypatch.setenv("ENDPOINTS", str(endpoints))
    monkeypatch.setenv("SECONDLOOK_RETENTION_DAYS", "45")
    _tracker_store.cache_clear()
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    yield ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    _tracker_store.cache_clear()


def make_tracker(
    intent: str | None = None,
    *,
    sender_id: str = "user-1",
    text: str = "",
    slots: dict[str, Any] | None = None,
    entities: list[dict] | None = None,
    intent_ranking: list[dict] | None = None,
    events: list[dict] | None = None,
) -> Tracker:
    """A tracker whose latest user message has `intent` (and optional entities and ranking)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9} if intent else {},
        "entities": entities or [],
        "intent_ranking": intent_ranking or [],
    }
    if events is None:
        events = [{"event": "user", "timestamp": time.time(), "text": text, "parse_data": latest}]
    all_slots = {"current_step": None, "completed_steps": None, "rehearsal_active": False, "line_assessment": None}
    all_slots.update(slots or {})
    return Tracker(sender_id, all_slots, latest, events, False, None, {}, "action_listen")


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    """The text messages sent (machine-readable custom payloads left out)."""
    return [message["text"] for message in dispatcher.messages if message.get("text")]


def customs(dispatcher: CollectingDispatcher, kind: str) -> list[dict]:
    """The custom payloads of one kind that were sent."""
    payloads = [(message.get("custom") or {}).get("data") or {} for message in dispatcher.messages]
    return [payload for payload in payloads if payload.get("type") == kind]


def payloads(dispatcher: CollectingDispatcher) -> list[str]:
    return [button["payload"] for message in dispatcher.messages for button in message.get("buttons") or []]

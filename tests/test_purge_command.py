"""`make purge` end to end: the command, on real database files, removes only what is idle."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

from secondlook.paths import PROJECT_ROOT
from secondlook.progress_store import ProgressStore
from stores.tracker_store import ErasableSQLTrackerStore


async def test_the_purge_command_removes_only_idle_data(tmp_path):
    progress_url = f"sqlite:///{tmp_path / 'progress.db'}"
    store = ProgressStore(progress_url)
    store.mark_done("idle-user", "ask_doctor")
    store.mark_done("active-user", "ask_doctor")
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE journeys SET updated_at = :t WHERE user_key = :k"),
            {"t": datetime.now(timezone.utc) - timedelta(days=40), "k": store.user_key("idle-user")},
        )

    tracker_db = tmp_path / "tracker.db"
    trackers = ErasableSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db))
    old = UserUttered("hello", {"name": "greet"})
    old.timestamp = time.time() - 40 * 86400
    await trackers.save(DialogueStateTracker.from_events("idle-user", [old], []))
    await trackers.save(DialogueStateTracker.from_events("active-user", [UserUttered("hi", {"name": "greet"})], []))

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: stores.tracker_store.ErasableSQLTrackerStore\n  dialect: sqlite\n  db: {tracker_db}\n"
    )
    result = subprocess.run(
        [sys.executable, "scripts/purge.py", "--days", "30", "--endpoints", str(endpoints)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": progress_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "purged: 1 idle user(s) from the progress database, 1 conversation event(s)" in result.stdout
    assert store.completed_steps("idle-user") == []
    assert store.completed_steps("active-user") == ["ask_doctor"]
    assert await trackers.retrieve("idle-user") is None
    assert await trackers.retrieve("active-user") is not None


def test_the_purge_command_refuses_a_nonsense_period():
    result = subprocess.run(
        [sys.executable, "scripts/purge.py", "--days", "0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "at least 1" in result.stderr

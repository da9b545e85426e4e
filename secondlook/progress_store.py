"""Per-user journey progress, stored through SQLAlchemy (SQLite by default, PostgreSQL in production).

Only the minimum is kept: a keyed hash of the sender id (never the id itself), step ids, timestamps,
the review log of emergencies answered, and notes the user explicitly asked to keep. The schema is
owned by Alembic (migrations/), applied when the store opens.
"""

import hashlib
import hmac
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Table,
    create_engine,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from secondlook.deployment import DEV_ID_SALT
from secondlook.paths import PROJECT_ROOT, VAR_DIR
from secondlook.progress_schema import (
    MAX_NOTE_LENGTH,
    USER_TABLES,
    completed_steps,
    journeys,
    notes,
    preparations,
    rehearsals,
    reminders,
    safety_events,
    step_history,
    telegram_messages,
)
from secondlook.questions import SITUATION_KEYS

DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'progress.db'}"
# Production deployments must set their own secret (secondlook/deployment.py), so that hashes cannot be
# recomputed from known ids.
DEFAULT_ID_SALT = DEV_ID_SALT
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
# Any constant: PostgreSQL serialises concurrent migrations of several starting processes on it.
MIGRATION_LOCK_ID = 5_005_055

TELEGRAM_DELETE_WINDOW = timedelta(hours=48)
QUESTION_TOPIC = "question"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def database_url_from_environment() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic; safe when several processes start at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class ProgressStore:
    def __init__(self, database_url: str, id_salt: str = DEFAULT_ID_SALT):
        if database_url.startswith("sqlite:///"):
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(database_url, future=True, pool_pre_ping=True)
        self._salt = id_salt.encode()
        migrate(self.engine)

    @classmethod
    def from_environment(cls) -> "ProgressStore":
        return cls(database_url_from_environment(), os.environ.get("SECONDLOOK_ID_SALT") or DEFAULT_ID_SALT)

    def user_key(self, sender_id: str) -> str:
        return hmac.new(self._salt, sender_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    # --- the journey -----------------------------------------------------------------------------

    def completed_steps(self, sender_id: str) -> list[str]:
        """Completed step ids, oldest completion first."""
        query = (
            select(completed_steps.c.step_id)
            .where(completed_steps.c.user_key == self.user_key(sender_id))
            .order_by(completed_steps.c.completed_at, completed_steps.c.step_id)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def mark_done(self, sender_id: str, step_id: str) -> bool:
        """Record `step_id` as done; False when it already was (also when two reports race)."""
        key = self.user_key(sender_id)
        now = _now()
        with self.engine.begin() as connection:
            self._touch(connection, key)
            row = {"user_key": key, "step_id": step_id, "completed_at": now}
            stored = _insert_if_absent(connection, completed_steps, row)
            if stored:
                connection.execute(insert(step_history).values(user_key=key, step_id=step_id, change="done", at=now))
        return stored

    def current_step(self, sender_id: str) -> str | None:
        query = select(journeys.c.current_step).where(journeys.c.user_key == self.user_key(sender_id))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def set_current_step(self, sender_id: str, step_id: str) -> None:
        with self.engine.begin() as connection:
            self._touch(connection, self.user_key(sender_id), current_step=step_id)

    def history(self, sender_id: str) -> list[dict]:
        query = (
            select(step_history.c.step_id, step_history.c.change, step_history.c.at)
            .where(step_history.c.user_key == self.user_key(sender_id))
            .order_by(step_history.c.id)
        )
        with self.engine.connect() as connection:
            return [
                {"step": step, "change": change, "at": _as_utc(at).isoformat()}
                for step, change, at in connection.execute(query)
            ]

    # --- notes the user keeps --------------------------------------------------------------------

    def add_note(self, sender_id: str, topic: str, note: str) -> None:
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            self._touch(connection, key)
            connection.execute(
                insert(notes).values(user_key=key, topic=topic, text=note[:MAX_NOTE_LENGTH], created_at=_now())
            )

    def notes(self, sender_id: str) -> list[dict]:
        query = (
            select(notes.c.topic, notes.c.text, notes.c.created_at)
            .where(notes.c.user_key == self.user_key(sender_id))
            .order_by(notes.c.id)
        )
        with self.engine.connect() as connection:
            return [
                {"topic": topic, "text": body, "at": _as_utc(at).isoformat()}
                for topic, body, at in connection.execute(query)
            ]

    # --- rehearsals -----------------------------------------------------------------------------

    def record_rehearsal(self, sender_id: str, scenario: str, temperament: str, lines: int, finished: bool) -> None:
        key = self.user_key(sender_id)
        row = {"user_key": key, "scenario": scenario, "temperament": temperament, "lines": lines}
        with self.engine.begin() as connection:
            self._touch(connection, key)
            connection.execute(insert(rehearsals).values(**row, finished=finished, at=_now()))

    def rehearsals(self, sender_id: str) -> list[dict]:
        query = (
            select(
                rehearsals.c.scenario,
                rehearsals.c.temperament,
                rehearsals.c.lines,
                rehearsals.c.finished,
                rehearsals.c.at,
            )
            .where(rehearsals.c.user_key == self.user_key(sender_id))
            .order_by(rehearsals.c.id)
        )
        with self.engine.connect() as connection:
            return [
                {"scenario": scenario, "temperament": temperament, "lines": lines, "finished": finished,
                 "at": _as_utc(at).isoformat()}
                for scenario, temperament, lines, finished, at in connection.execute(query)
            ]  # fmt: skip

    # --- the preparation kit ----------------------------------------------------------

    def preparation(self, sender_id: str) -> dict[str, str]:
        return self.preparation_by_key(self.user_key(sender_id))

    def preparation_by_key(self, key: str) -> dict[str, str]:
        """The user's situation: only the keys that are known."""
        query = select(preparations).where(preparations.c.user_key == key)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return {name: row[name] for name in SITUATION_KEYS if row and row[name]}

    def save_preparation(self, sender_id: str, situation: dict[str, str | None]) -> None:
        """Replace the stored situation with `situation` (unknown keys are stored as empty)."""
        key = self.user_key(sender_id)
        values = {name: situation.get(name) for name in SITUATION_KEYS}
        with self.engine.begin() as connection:
            self._touch(connection, key)
            row = {"user_key": key, "updated_at": _now(), **values}
            if not _insert_if_absent(connection, preparations, row):
                connection.execute(
                    sql_update(preparations).where(preparations.c.user_key == key).values(updated_at=_now(), **values)
                )

    def own_questions(self, sender_id: str) -> list[str]:
        return self.own_questions_by_key(self.user_key(sender_id))

    def own_questions_by_key(self, key: str) -> list[str]:
        query = (
            select(notes.c.text).where(notes.c.user_key == key, notes.c.topic == QUESTION_TOPIC).order_by(notes.c.id)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def journey_by_key(self, key: str) -> tuple[list[str], str | None]:
        """Completed step ids and the current step of the user with this key."""
        with self.engine.connect() as connection:
            done = connection.execute(
                select(completed_steps.c.step_id)
                .where(completed_steps.c.user_key == key)
                .order_by(completed_steps.c.completed_at, completed_steps.c.step_id)
            ).scalars()
            current = connection.execute(select(journeys.c.current_step).where(journeys.c.user_key == key)).scalar()
            return list(done), current

    def schedule_reminder(
        self, sender_id: str, name: str, channel: str | None, appointment_on: date, due_at: datetime
    ) -> list[str]:
        """Store a check-in, replacing the user's earlier ones; returns the names of those replaced."""
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            self._touch(connection, key)
            replaced = list(connection.execute(select(reminders.c.name).where(reminders.c.user_key == key)).scalars())
            connection.execute(delete(reminders).where(reminders.c.user_key == key))
            connection.execute(
                insert(reminders).values(
                    name=name, user_key=key, sender_id=sender_id, channel=channel,
                    appointment_on=appointment_on, due_at=due_at, created_at=_now(),
                )
            )  # fmt: skip
        return replaced

    def reminders(self, sender_id: str) -> list[dict]:
        return self.reminders_by_key(self.user_key(sender_id))

    def reminders_by_key(self, key: str) -> list[dict]:
        query = select(reminders).where(reminders.c.user_key == key).order_by(reminders.c.due_at)
        with self.engine.connect() as connection:
            return [_reminder_row(row) for row in connection.execute(query).mappings()]

    def pending_reminders(self) -> list[dict]:
        """Every stored check-in of every user, soonest first (to schedule them again at start)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(reminders).order_by(reminders.c.due_at)).mappings()
            return [{**_reminder_row(row), "sender_id": row["sender_id"]} for row in rows]

    def take_reminder(self, sender_id: str, name: str) -> dict | None:
        """Remove the check-in `name` of this user and return it; None when it is gone (cancelled, erased,
        or already sent by another process)."""
        key = self.user_key(sender_id)
        where = (reminders.c.user_key == key, reminders.c.name == name)
        with self.engine.begin() as connection:
            row = connection.execute(select(reminders).where(*where)).mappings().first()
            if row is None or connection.execute(delete(reminders).where(*where)).rowcount == 0:
                return None
            return _reminder_row(row)

    def cancel_reminders(self, sender_id: str) -> list[str]:
        """Delete the user's check-ins; returns their names."""
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            names = list(connection.execute(select(reminders.c.name).where(reminders.c.user_key == key)).scalars())
            connection.execute(delete(reminders).where(reminders.c.user_key == key))
        return names

    # --- safety review log -----------------------------------------------------------------------

    def record_safety_event(self, sender_id: str, kind: str, source: str, rule: str | None = None) -> None:
        row = {"user_key": self.user_key(sender_id), "kind": kind, "source": source, "rule": rule, "created_at": _now()}
        with self.engine.begin() as connection:
            connection.execute(insert(safety_events).values(**row))

    # --- the Telegram chat's message ids (for deleting them on erasure) ---------------------------

    def record_telegram_message(self, sender_id: str, message_id: int, sent_at: datetime) -> None:
        """Keep one message id of the chat; ids past Telegram's deletion window go at the same time."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(telegram_messages).values(
                    user_key=self.user_key(sender_id), message_id=message_id, sent_at=_as_utc(sent_at)
                )
            )
            expired = telegram_messages.c.sent_at < _now() - TELEGRAM_DELETE_WINDOW
            connection.execute(delete(telegram_messages).where(expired))

    def telegram_messages(self, sender_id: str, now: datetime | None = None) -> list[int]:
        """The ids of this chat's messages that a bot may still delete, oldest first."""
        since = (now or _now()) - TELEGRAM_DELETE_WINDOW
        query = (
            select(telegram_messages.c.message_id)
            .where(telegram_messages.c.user_key == self.user_key(sender_id), telegram_messages.c.sent_at >= since)
            .order_by(telegram_messages.c.sent_at, telegram_messages.c.message_id)
        )
        with self.engine.connect() as connection:
            return list(dict.fromkeys(connection.execute(query).scalars()))

    def forget_telegram_messages(self, sender_id: str) -> int:
        with self.engine.begin() as connection:
            key = self.user_key(sender_id)
            return connection.execute(delete(telegram_messages).where(telegram_messages.c.user_key == key)).rowcount

    def purge_telegram_messages(self, now: datetime | None = None) -> int:
        """Delete the ids past Telegram's deletion window (they are of no use any more)."""
        cutoff = (now or _now()) - TELEGRAM_DELETE_WINDOW
        with self.engine.begin() as connection:
            return connection.execute(delete(telegram_messages).where(telegram_messages.c.sent_at < cutoff)).rowcount

    # --- the user's rights: see, erase; and retention --------------------------------------------

    def export(self, sender_id: str) -> dict:
        """Everything stored about this user, as plain JSON-ready data."""
        key = self.user_key(sender_id)
        with self.engine.connect() as connection:
            journey = connection.execute(select(journeys).where(journeys.c.user_key == key)).mappings().first()
            done = connection.execute(
                select(completed_steps.c.step_id, completed_steps.c.completed_at)
                .where(completed_steps.c.user_key == key)
                .order_by(completed_steps.c.completed_at)
            ).all()
            alerts = connection.execute(
                select(safety_events.c.kind, safety_events.c.created_at)
                .where(safety_events.c.user_key == key)
                .order_by(safety_events.c.id)
            ).all()
        return {
            "user_key": key,
            "current_step": journey["current_step"] if journey else None,
            "first_seen": _as_utc(journey["created_at"]).isoformat() if journey else None,
            "last_updated": _as_utc(journey["updated_at"]).isoformat() if journey else None,
            "completed_steps": [
                {"step": step_id, "completed_at": _as_utc(moment).isoformat()} for step_id, moment in done
            ],
            "history": self.history(sender_id),
            "notes": self.notes(sender_id),
            "rehearsals": self.rehearsals(sender_id),
            "safety_events": [{"kind": kind, "at": _as_utc(moment).isoformat()} for kind, moment in alerts],
            "preparation": self.preparation_by_key(key),
            "check_ins": [
                {"appointment_on": row["appointment_on"], "due_at": row["due_at"]} for row in self.reminders_by_key(key)
            ],
        }

    def forget(self, sender_id: str) -> int:
        """Delete every row about this user; returns how many rows went."""
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            return sum(
                connection.execute(delete(table).where(table.c.user_key == key)).rowcount for table in USER_TABLES
            )

    def purge_idle(self, cutoff: datetime) -> int:
        """Delete every user whose journey has not changed since `cutoff`; returns how many users went.

        One transaction: a user who comes back while it runs is either kept whole or removed whole.
        """
        with self.engine.begin() as connection:
            stale = select(journeys.c.user_key).where(journeys.c.updated_at < cutoff).scalar_subquery()
            for table in USER_TABLES[:-1]:
                connection.execute(delete(table).where(table.c.user_key.in_(stale)))
            return connection.execute(delete(journeys).where(journeys.c.updated_at < cutoff)).rowcount

    def _touch(self, connection: Connection, key: str, **values) -> None:
        """Create or update the user's journey row (which also dates their last activity).

        The update locks the row, so concurrent turns of one user run their changes one after another.
        """
        now = _now()
        _insert_if_absent(connection, journeys, {"user_key": key, "created_at": now, "updated_at": now})
        connection.execute(sql_update(journeys).where(journeys.c.user_key == key).values(updated_at=now, **values))


def _reminder_row(row) -> dict:
    appointment_on = row["appointment_on"]
    if isinstance(appointment_on, datetime):
        appointment_on = appointment_on.date()
    return {
        "name": row["name"],
        "channel": row["channel"],
        "appointment_on": appointment_on.isoformat(),
        "due_at": _as_utc(row["due_at"]).isoformat(),
    }


def _insert_if_absent(connection: Connection, table: Table, row: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); True if the row was new."""
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    return connection.execute(dialect_insert(table).values(**row).on_conflict_do_nothing()).rowcount > 0


_store: ProgressStore | None = None


def get_store() -> ProgressStore:
    """The process-wide store, configured from the environment on first use."""
    global _store
    if _store is None:
        _store = ProgressStore.from_environment()
    return _store

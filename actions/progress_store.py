"""Per-user journey progress, stored through SQLAlchemy (SQLite by default, PostgreSQL in production).

Only the minimum is kept: a keyed hash of the sender id (never the id itself), step ids and timestamps.
"""

import hashlib
import hmac
import os
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, delete, insert, select, update
from sqlalchemy.engine import Engine

from actions.paths import VAR_DIR

DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'progress.db'}"
# Production deployments set their own secret so that hashes cannot be recomputed from known ids.
DEFAULT_ID_SALT = "secondlook-dev-salt"

metadata = MetaData()

journeys = Table(
    "journeys",
    metadata,
    Column("user_key", String(64), primary_key=True),
    Column("current_step", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

completed_steps = Table(
    "completed_steps",
    metadata,
    Column("user_key", String(64), primary_key=True),
    Column("step_id", String(32), primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)

# Emergencies the assistant answered, for human review: what kind, how it was recognised, when.
# Never the message text.
safety_events = Table(
    "safety_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("rule", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class ProgressStore:
    def __init__(self, database_url: str, id_salt: str = DEFAULT_ID_SALT):
        if database_url.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(database_url.removeprefix("sqlite:///")) or ".", exist_ok=True)
        self.engine: Engine = create_engine(database_url, future=True, pool_pre_ping=True)
        self._salt = id_salt.encode()
        metadata.create_all(self.engine)

    @classmethod
    def from_environment(cls) -> "ProgressStore":
        return cls(
            os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            os.environ.get("SECONDLOOK_ID_SALT") or DEFAULT_ID_SALT,
        )

    def user_key(self, sender_id: str) -> str:
        return hmac.new(self._salt, sender_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

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
        """Record `step_id` as done; False when it already was."""
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            already = connection.execute(
                select(completed_steps.c.step_id).where(
                    completed_steps.c.user_key == key, completed_steps.c.step_id == step_id
                )
            ).first()
            if already:
                return False
            connection.execute(insert(completed_steps).values(user_key=key, step_id=step_id, completed_at=_now()))
            self._touch(connection, key)
        return True

    def mark_undone(self, sender_id: str, step_id: str) -> bool:
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(completed_steps).where(completed_steps.c.user_key == key, completed_steps.c.step_id == step_id)
            )
            self._touch(connection, key)
        return result.rowcount > 0

    def current_step(self, sender_id: str) -> str | None:
        query = select(journeys.c.current_step).where(journeys.c.user_key == self.user_key(sender_id))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def set_current_step(self, sender_id: str, step_id: str) -> None:
        with self.engine.begin() as connection:
            self._touch(connection, self.user_key(sender_id), current_step=step_id)

    def record_safety_event(self, sender_id: str, kind: str, source: str, rule: str | None = None) -> None:
        row = {"user_key": self.user_key(sender_id), "kind": kind, "source": source, "rule": rule, "created_at": _now()}
        with self.engine.begin() as connection:
            connection.execute(insert(safety_events).values(**row))

    def safety_events_since(self, since: datetime) -> list[dict]:
        """The review log: every safety event since `since`, oldest first."""
        query = select(safety_events).where(safety_events.c.created_at >= since).order_by(safety_events.c.id)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

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
            "safety_events": [{"kind": kind, "at": _as_utc(moment).isoformat()} for kind, moment in alerts],
        }

    def forget(self, sender_id: str) -> int:
        """Delete every row about this user; returns how many rows went."""
        key = self.user_key(sender_id)
        with self.engine.begin() as connection:
            removed = connection.execute(delete(completed_steps).where(completed_steps.c.user_key == key)).rowcount
            removed += connection.execute(delete(journeys).where(journeys.c.user_key == key)).rowcount
            removed += connection.execute(delete(safety_events).where(safety_events.c.user_key == key)).rowcount
        return removed

    def _touch(self, connection, key: str, **values) -> None:
        """Create or update the user's journey row."""
        now = _now()
        updated = connection.execute(
            update(journeys).where(journeys.c.user_key == key).values(updated_at=now, **values)
        ).rowcount
        if not updated:
            connection.execute(insert(journeys).values(user_key=key, created_at=now, updated_at=now, **values))


_store: ProgressStore | None = None


def get_store() -> ProgressStore:
    """The process-wide store, configured from the environment on first use."""
    global _store
    if _store is None:
        _store = ProgressStore.from_environment()
    return _store

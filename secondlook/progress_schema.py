"""The progress database's tables (SQLAlchemy Core). Alembic owns the schema (migrations/, which compares
against this metadata); secondlook/progress_store.py reads and writes them."""

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table

MAX_NOTE_LENGTH = 500

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

# Every change of a step, in order: the user's history (the step and its change, "done").
step_history = Table(
    "step_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("step_id", String(32), nullable=False),
    Column("change", String(8), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Only what the user asked to keep, such as the name of the specialist they found.
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("topic", String(32), nullable=False),
    Column("text", String(MAX_NOTE_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
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

# Each role-play the user practised: which situation, which doctor, how many lines, finished or stopped.
rehearsals = Table(
    "rehearsals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("scenario", String(32), nullable=False),
    Column("temperament", String(32), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("finished", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# --- the preparation kit ---
# The user's situation for the question list: the kind of specialist, whether a treatment was proposed,
# whether the second opinion differs (short codes from content/questions.yml, never free text).
preparations = Table(
    "preparations",
    metadata,
    Column("user_key", String(64), primary_key=True),
    Column("specialty", String(32), nullable=True),
    Column("treatment", String(32), nullable=True),
    Column("opinion", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Check-ins the user accepted ("how did the appointment go?"). The conversation id is kept in clear
# here, and only here, because the check-in must be delivered to it (also after a restart); the row
# goes when the check-in is sent or cancelled, or the user's data is erased.
reminders = Table(
    "reminders",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("sender_id", String(255), nullable=False),
    Column("channel", String(32), nullable=True),
    Column("appointment_on", Date, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# The ids of a Telegram chat's recent messages (the user's and the bot's), so that "delete my data" can
# delete them in the chat too. Telegram lets a bot delete a message for 48 hours only, so a row is kept
# that long, or until the erasure: a hashed id, a message id and its time, never any text.
telegram_messages = Table(
    "telegram_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", String(64), nullable=False, index=True),
    Column("message_id", BigInteger, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, index=True),
)


# journeys last: purge selects users by it.
USER_TABLES = (completed_steps, step_history, notes, safety_events, rehearsals, preparations, reminders, journeys)

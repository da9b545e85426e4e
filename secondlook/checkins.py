"""The check-in after the appointment: a Rasa reminder whose intent is CHECKIN_INTENT, kept in the
progress store so that it survives a new session, a restart and a second server.

Shared by the action server (actions/checkin_actions.py schedules it; actions/session_actions.py
registers the pending ones again) and the Rasa server (channels/preparation.py restores them at start).
"""

from datetime import datetime, timedelta, timezone

CHECKIN_INTENT = "EXTERNAL_appointment_checkin"
# What Rasa puts before the intent of a message a reminder sends.
EXTERNAL_PREFIX = "EXTERNAL: "
# Reminders re-registered at a session start fire no sooner than this (see reminder_times).
RESCHEDULE_MARGIN = timedelta(seconds=3)


def reminder_times(check_ins: list[dict], now: datetime) -> list[tuple[str, datetime]]:
    """The user's stored check-ins as (reminder name, when it fires), for a new session.

    Rasa drops a reminder whose ReminderScheduled is not in the current session (it treats it as
    outdated), so every session start re-registers the pending ones. A check-in already due (the
    server was down, or this session start runs inside the firing reminder) is set a few seconds
    ahead: it keeps the firing one valid, and the check-in action cancels the duplicate."""
    return [(row["name"], max(datetime.fromisoformat(row["due_at"]), now + RESCHEDULE_MARGIN)) for row in check_ins]


def take_due_checkin(store, sender: str) -> dict | None:
    """Removes and returns the user's check-in that is due (None if there is none left to send)."""
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    for row in store.reminders(sender):
        if datetime.fromisoformat(row["due_at"]) <= soon and store.take_reminder(sender, row["name"]):
            return row
    return None

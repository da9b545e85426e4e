"""The retention period: one setting, read by the purge (scripts/purge.py, `make purge`) and by the
answer to "what do you keep about me?", so that what the assistant says is what the purge does."""

import os

DEFAULT_RETENTION_DAYS = 180
RETENTION_VARIABLE = "SECONDLOOK_RETENTION_DAYS"


def retention_days() -> int:
    """Days a conversation and progress are kept after the user's last activity (at least 1)."""
    value = (os.environ.get(RETENTION_VARIABLE) or "").strip()
    if not value:
        return DEFAULT_RETENTION_DAYS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{RETENTION_VARIABLE} must be a whole number of days, at least 1")
    return int(value)

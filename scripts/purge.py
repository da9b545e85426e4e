"""Retention: delete conversations and progress idle for longer than the retention period.

Safe to run from cron while the bot runs (each purge is a single transaction on rows no one is using).
Usage: make purge [RETENTION_DAYS=180] [ENDPOINTS=endpoints.yml]; the period defaults to
SECONDLOOK_RETENTION_DAYS (180 days when unset), the setting the bot also states when asked what it
keeps (secondlook/retention.py); the progress database comes from DATABASE_URL, the tracker store from the
endpoints file, as for the bot itself.
"""

import argparse
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from secondlook.paths import PROJECT_ROOT
from secondlook.progress_store import ProgressStore
from secondlook.retention import retention_days
from stores.tracker_store import tracker_store_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=None, help="default: SECONDLOOK_RETENTION_DAYS, else 180")
    parser.add_argument("--endpoints", type=Path, default=PROJECT_ROOT / "endpoints.yml")
    args = parser.parse_args()
    if args.days is None:
        try:
            args.days = retention_days()
        except ValueError as error:
            raise SystemExit(str(error)) from None
    if args.days < 1:
        raise SystemExit("--days must be at least 1")

    os.chdir(PROJECT_ROOT)  # the endpoints file names its SQLite database relative to the project
    cutoff = datetime.now(timezone.utc) - timedelta(days=args.days)
    store = ProgressStore.from_environment()
    users = store.purge_idle(cutoff)
    message_ids = store.purge_telegram_messages()
    try:
        tracker_store = tracker_store_from(args.endpoints)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    events = tracker_store.purge_idle(time.time() - args.days * 86400)
    print(
        f"purged: {users} idle user(s) from the progress database, {events} conversation event(s),"
        f" {message_ids} expired Telegram message id(s)"
    )


if __name__ == "__main__":
    main()

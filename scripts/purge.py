"""Retention: delete conversations and progress idle for longer than the retention period.

Safe to run from cron while the bot runs (each purge is a single transaction on rows no one is using).
Usage: make purge [RETENTION_DAYS=180] [ENDPOINTS=endpoints.yml]; the progress database comes from
DATABASE_URL, the tracker store from the endpoints file, as for the bot itself.
"""

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.utils.endpoints import read_endpoint_config  # noqa: E402

from actions.progress_store import ProgressStore  # noqa: E402
from stores.tracker_store import ErasableSQLTrackerStore  # noqa: E402

DEFAULT_RETENTION_DAYS = 180


def tracker_store_from(endpoints: Path) -> ErasableSQLTrackerStore:
    # Rasa expands every ${VARIABLE} of the file and stops at an unset one; purging needs only the
    # tracker store, not the action servers' address or token.
    for variable in ("SECONDLOOK_ACTION_TOKEN", "ACTION_SERVER_URL"):
        os.environ.setdefault(variable, "")
    config = read_endpoint_config(str(endpoints), "tracker_store")
    if config is None or not config.type.endswith("ErasableSQLTrackerStore"):
        raise SystemExit(f"{endpoints}: the tracker store is not stores.tracker_store.ErasableSQLTrackerStore")
    return ErasableSQLTrackerStore(host=config.url, **config.kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--days", type=int, default=int(os.environ.get("SECONDLOOK_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    )
    parser.add_argument("--endpoints", type=Path, default=ROOT / "endpoints.yml")
    args = parser.parse_args()
    if args.days < 1:
        raise SystemExit("--days must be at least 1")

    os.chdir(ROOT)  # the endpoints file names its SQLite database relative to the project
    cutoff = datetime.now(timezone.utc) - timedelta(days=args.days)
    store = ProgressStore.from_environment()
    users = store.purge_idle(cutoff)
    message_ids = store.purge_telegram_messages()
    events = tracker_store_from(args.endpoints).purge_idle(time.time() - args.days * 86400)
    print(
        f"purged: {users} idle user(s) from the progress database, {events} conversation event(s),"
        f" {message_ids} expired Telegram message id(s)"
    )


if __name__ == "__main__":
    main()

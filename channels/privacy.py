"""The Rasa-server side of "what do you keep about me?", as an input channel without messages:

- `GET /chat/my-data/<token>.json`: the full copy of what is kept about one user, as a download.
  The token is the signed, short-lived, single-purpose link the bot sends on the web chat and REST
  (secondlook/my_data.py); it opens the copy of the one sender it was made for, until it expires.
- `export_file`: the same copy for the Telegram and Slack channels, which send it as a file.
- the retention purge, once a day: conversations and progress idle for longer than
  SECONDLOOK_RETENTION_DAYS are deleted (the same purge as `make purge`), so the period the bot
  states is the one that happens without anyone having to set up cron.

The copy is read from the stores when it is asked for, so it holds what they hold at that moment:
the progress rows under the sender's keyed hash, and every stored conversation event of that sender.

Keyed in credentials.yml by module path (`channels.privacy.PrivacyInput`, no options).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from rasa.core import jobs
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from channels.common import tracker_store_of
from channels.links import LinkChannel, attachment, open_link, unavailable
from secondlook.my_data import EXPORT_PATH, export_bytes, export_document, export_filename, verify_export_token
from secondlook.progress_store import get_store
from secondlook.retention import retention_days
from stores.tracker_store import ErasableSQLTrackerStore

logger = logging.getLogger(__name__)

PURGE_JOB_ID = "secondlook-retention-purge"
PURGE_INTERVAL = timedelta(days=1)
FIRST_PURGE_DELAY = timedelta(minutes=1)


def erasable_store(tracker_store: Any) -> ErasableSQLTrackerStore | None:
    """The project's tracker store inside Rasa's wrappers (FailSafe..., Awaitable...), if it is one."""
    for _ in range(5):
        if isinstance(tracker_store, ErasableSQLTrackerStore):
            return tracker_store
        tracker_store = getattr(tracker_store, "_tracker_store", None)
    return None


def export_file(tracker_store: Any, sender_id: str, now: float | None = None) -> bytes:
    """The copy of everything kept about `sender_id` (blocking: database reads).

    Raises SQLAlchemyError when a store can't be read, and LookupError when the conversations are not
    in the project's tracker store (a copy without them would not be the whole truth)."""
    conversations = erasable_store(tracker_store)
    if conversations is None:
        raise LookupError("the tracker store is not stores.tracker_store.ErasableSQLTrackerStore")
    progress = get_store().export(sender_id)
    events = conversations.stored_events(sender_id)
    return export_bytes(export_document(progress, events, retention_days(), now))


def render_export(token: str, tracker_store: Any, now: float | None = None) -> HTTPResponse:
    """The copy a `<token>.json` opens; 404 for another suffix, 403 for a bad or expired token."""
    opened = open_link(token, ("json",), verify_export_token, now)
    if isinstance(opened, HTTPResponse):
        return opened
    sender_id, _suffix = opened
    try:
        content = export_file(tracker_store, sender_id, now)
    except (SQLAlchemyError, LookupError) as error:
        logger.error("a data export failed: %s", type(error).__name__)
        return unavailable("Your data is not available just now. Please try again.\n")
    return attachment(content, "application/json; charset=utf-8", export_filename(now))


def purge_once(tracker_store: Any, now: float | None = None) -> tuple[int, int]:
    """The retention purge (blocking): idle users from the progress database, idle conversations
    from the tracker store; returns how many of each went."""
    moment = now if now is not None else time.time()
    days = retention_days()
    users = get_store().purge_idle(datetime.fromtimestamp(moment, tz=timezone.utc) - timedelta(days=days))
    conversations = erasable_store(tracker_store)
    events = conversations.purge_idle(moment - days * 86400) if conversations is not None else 0
    return users, events


async def scheduled_purge(app: Any) -> None:
    try:
        users, events = await asyncio.get_running_loop().run_in_executor(None, purge_once, tracker_store_of(app))
    except SQLAlchemyError as error:  # the next day's run tries again
        logger.warning("retention purge failed: %s", type(error).__name__)
        return
    logger.info("retention purge: %d idle user(s), %d conversation event(s)", users, events)


class PrivacyInput(LinkChannel):
    channel_name, path, blueprint_name, route_name = "privacy", EXPORT_PATH, "my_data", "data_export"

    def render(self, request: Request, token: str) -> HTTPResponse:
        return render_export(token, tracker_store_of(request.app), time.time())

    async def after_start(self, app: Any) -> None:
        retention_days()  # a wrong SECONDLOOK_RETENTION_DAYS stops the start, not the first purge
        scheduler = await jobs.scheduler()
        first = datetime.now(timezone.utc) + FIRST_PURGE_DELAY
        scheduler.add_job(
            scheduled_purge, "interval", args=[app], id=PURGE_JOB_ID, replace_existing=True,
            seconds=PURGE_INTERVAL.total_seconds(), next_run_time=first,
        )  # fmt: skip

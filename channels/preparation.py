"""The Rasa-server side of the preparation kit, as an input channel without messages:

- `GET /chat/summary/<token>.pdf` and `.md`: the user's summary to take along. The token is a signed,
  expiring link the bot sends in the conversation (secondlook/summary.py); it names the user only by
  the keyed hash the progress store uses, so one user's link can't be turned into another's.
- at server start, the check-ins stored in the progress database are scheduled again as Rasa
  reminders: Rasa keeps reminders in memory only, so a restart would lose them. A check-in that fell
  due while the server was down is sent a few seconds after the start.

Keyed in credentials.yml by module path (`channels.preparation.PreparationInput`, no options).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

from rasa.core import jobs
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from rasa.shared.core.events import ReminderScheduled
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from channels.links import LinkChannel, attachment, open_link, unavailable
from secondlook.checkins import CHECKIN_INTENT
from secondlook.deployment import check_secrets
from secondlook.locale import current_locale
from secondlook.progress_store import get_store
from secondlook.summary import SUMMARY_PATH, summary_for_key, to_markdown, to_pdf, verify_token

logger = logging.getLogger(__name__)

STARTUP_MARGIN = timedelta(seconds=5)
FORMATS = {
    "pdf": ("application/pdf", to_pdf),
    "md": ("text/markdown; charset=utf-8", lambda blocks: to_markdown(blocks).encode("utf-8")),
}


def render_summary(token: str, now: float | None = None) -> HTTPResponse:
    """The document a `<token>.<format>` names, or 404 (unknown format) / 403 (bad or expired token)."""
    opened = open_link(token, FORMATS, verify_token, now)
    if isinstance(opened, HTTPResponse):
        return opened
    key, suffix = opened
    content_type, render = FORMATS[suffix]
    try:
        blocks = summary_for_key(get_store(), key, current_locale().code, datetime.now().astimezone().date())
    except SQLAlchemyError:
        return unavailable("The summary is not available just now. Please try again.\n")
    return attachment(render(blocks), content_type, f"secondlook-summary-{date.today():%Y-%m-%d}.{suffix}")


def output_channel_for(app: Any, channel_name: str | None) -> OutputChannel:
    """An output channel for a conversation's channel without a request in hand, as Rasa's own
    trigger_intent endpoint finds one; messages of channels that can't give one are only recorded."""
    for channel in getattr(app.ctx, "input_channels", None) or []:
        if channel.name() == channel_name:
            output = channel.get_output_channel()
            if output is not None:
                return output
    return CollectingOutputChannel()


async def reschedule_checkins(app: Any, now: datetime | None = None) -> int:
    """Schedules every stored check-in again in Rasa's reminder scheduler; returns how many."""
    agent = getattr(app.ctx, "agent", None)
    processor = getattr(agent, "processor", None)
    if processor is None:
        logger.warning("no model loaded: stored check-ins are not scheduled")
        return 0
    try:
        pending = await asyncio.get_running_loop().run_in_executor(None, get_store().pending_reminders)
    except SQLAlchemyError as error:
        logger.warning("stored check-ins could not be read: %s", type(error).__name__)
        return 0
    earliest = (now or datetime.now(timezone.utc)) + STARTUP_MARGIN
    scheduler = await jobs.scheduler()
    for row in pending:
        due = max(datetime.fromisoformat(row["due_at"]), earliest)
        reminder = ReminderScheduled(CHECKIN_INTENT, due, name=row["name"], kill_on_user_message=False)
        sender_id = row["sender_id"]
        # The same job id and name as Rasa gives a reminder, so that ReminderCancelled finds it.
        scheduler.add_job(
            processor.handle_reminder,
            "date",
            run_date=due,
            args=[reminder, sender_id, output_channel_for(app, row["channel"])],
            id=reminder.name,
            replace_existing=True,
            name=reminder.scheduled_job_name(sender_id),
        )
    logger.info("scheduled %d stored check-in(s) again", len(pending))
    return len(pending)


class PreparationInput(LinkChannel):
    channel_name, path, blueprint_name, route_name = "preparation", SUMMARY_PATH, "preparation_kit", "summary_document"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> PreparationInput:
        # Also when started as plain `rasa run` (not scripts/rasa_server.py): this server verifies the links.
        check_secrets("the Rasa server")
        return cls()

    def render(self, request: Request, token: str) -> HTTPResponse:
        return render_summary(token, time.time())

    async def after_start(self, app: Any) -> None:
        await reschedule_checkins(app)

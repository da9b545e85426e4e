"""Rasa's SQL tracker store, with erasure.

Rasa open source has no way to delete a conversation, and it saves the in-memory tracker after every
turn: rows deleted from inside an action would be written straight back. So erasure happens here,
at save time: when the turn being saved ran `action_forget_me` to completion, every stored event of
that sender is deleted and nothing of the turn is written.
"""

import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, AllSlotsReset, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

ERASURE_ACTION = "action_forget_me"


def erasure_completed(tracker: DialogueStateTracker) -> bool:
    """Whether the latest turn ran the erasure action and it succeeded (it resets all slots only then)."""
    ran_erasure = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, AllSlotsReset):
            ran_erasure = True
        elif isinstance(event, ActionExecuted) and event.action_name == ERASURE_ACTION:
            return ran_erasure
    return False


class ErasableSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa makes its engine without pre-ping and offers no way to ask for it: after a database
        # restart every pooled connection is dead, and the next turn that draws one fails. A ping on
        # checkout replaces dead connections (SQLAlchemy's "pessimistic" disconnect handling).
        self.engine.pool._pre_ping = True

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_completed(tracker):
            removed = self.erase(tracker.sender_id)
            logger.info("erased a conversation on request (%d events)", removed)
            return
        await super().save(tracker)

    def erase(self, sender_id: str) -> int:
        """Delete every stored event of `sender_id`; returns how many went."""
        with self.session_scope() as session:
            removed = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
        return removed

    def purge_idle(self, cutoff_timestamp: float) -> int:
        """Delete the conversations whose latest event is older than `cutoff_timestamp` (Unix time).

        One statement: a conversation that receives a message while it runs is not idle, so it stays.
        """
        events = self.SQLEvent
        idle = (
            sa.select(events.sender_id)
            .group_by(events.sender_id)
            .having(sa.func.max(events.timestamp) < cutoff_timestamp)
            .scalar_subquery()
        )
        with self.session_scope() as session:
            purge = sa.delete(events).where(events.sender_id.in_(idle)).execution_options(synchronize_session=False)
            removed = session.execute(purge).rowcount
            session.commit()
        return removed

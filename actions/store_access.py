"""Progress-store calls from actions that degrade gracefully: if the database is unreachable the user
gets an honest message and the conversation goes on with what the tracker already knows."""

import logging
from collections.abc import Callable
from typing import TypeVar

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from secondlook.progress_store import get_store

logger = logging.getLogger(__name__)
T = TypeVar("T")

STORE_UNAVAILABLE = (
    "I couldn't reach your saved progress just now, so this may not be saved. Please try again in a moment."
)


def with_store(dispatcher: CollectingDispatcher | None, call: Callable, fallback: T) -> T:
    """Run `call(store)`; on a database error, tell the user (if a dispatcher is given) and return `fallback`."""
    try:
        return call(get_store())
    except SQLAlchemyError as error:
        logger.warning("progress store unavailable: %s", type(error).__name__)
        already_said = dispatcher is not None and any(m.get("text") == STORE_UNAVAILABLE for m in dispatcher.messages)
        if dispatcher is not None and not already_said:  # once per turn, however many calls fail
            dispatcher.utter_message(text=STORE_UNAVAILABLE)
        return fallback

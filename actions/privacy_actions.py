"""The user's control over their data: see everything stored about them, and erase it.

"What do you keep about me?" is answered from what the two stores hold right now (secondlook/my_data.py
builds the words); the full copy is offered as a download or a file, never pasted into the chat.
"""

import logging
from functools import cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.store_access import with_store
from secondlook.journey import load_journey
from secondlook.my_data import (
    ERASE_CLIENT,
    EXPORT_PATH,
    FILE_CHANNELS,
    export_filename,
    export_link_ttl_seconds,
    keeps_nothing,
    nothing_kept,
    overview,
    sign_export_token,
    texts,
    unsaved_user_messages,
)
from secondlook.replies import custom_payload, say
from secondlook.retention import retention_days

logger = logging.getLogger(__name__)


@cache
def _tracker_store(endpoints: str) -> Any:
    from stores.tracker_store import tracker_store_from  # Rasa's tracker store: loaded on first use

    return tracker_store_from(endpoints)


def conversation_counts(sender_id: str) -> Any:
    """The tracker store's `MessageCounts` for this sender, or None when it can't be read."""
    from stores.tracker_store import ConversationStoreError, configured_endpoints

    try:
        return _tracker_store(str(configured_endpoints())).message_counts(sender_id)
    except (ConversationStoreError, SQLAlchemyError, ValueError, OSError) as error:
        logger.warning("conversation store unreadable: %s", type(error).__name__)
        return None


def _earliest(events: list[dict]) -> float | None:
    return min((event["timestamp"] for event in events if event.get("timestamp")), default=None)


class ActionShowMyData(Action):
    def name(self) -> str:
        return "action_show_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = tracker.sender_id
        progress = with_store(dispatcher, lambda store: store.export(sender), None)
        if progress is None:
            return []
        counts = conversation_counts(sender)
        days = retention_days()
        if keeps_nothing(progress, counts.user if counts else None):
            dispatcher.utter_message(text=nothing_kept(days))
            return []
        user_messages = counts.user + unsaved_user_messages(tracker.events, counts.last) if counts else None
        since = (counts.first if counts else None) or _earliest(tracker.events)
        channel = tracker.get_latest_input_channel()
        ttl = export_link_ttl_seconds()
        dispatcher.utter_message(
            text=overview(load_journey(), progress, user_messages, since, channel, days, max(1, ttl // 60))
        )
        if channel in FILE_CHANNELS:  # the channel sends the file itself (channels/privacy.py)
            dispatcher.utter_message(json_message=custom_payload("data_export", filename=export_filename()))
        else:
            link = {
                "format": "json",
                "label": texts()["download_label"],
                "path": f"{EXPORT_PATH}/{sign_export_token(sender)}.json",
            }
            dispatcher.utter_message(json_message=custom_payload("data_export", links=[link], expires_in=ttl))
        return []


class ActionForgetMe(Action):
    """Runs only after the user confirmed: deletes their progress rows and clears the conversation state.

    It also tells the channel, before the closing words, to erase the copies it controls: the web chat
    clears its stored history and session, Telegram and Slack delete the messages they still may.
    """

    def name(self) -> str:
        return "action_forget_me"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        removed = with_store(dispatcher, lambda store: store.forget(tracker.sender_id), None)
        if removed is None:
            return []
        dispatcher.utter_message(json_message=custom_payload(ERASE_CLIENT))
        dispatcher.utter_message(text=say("privacy.forgotten"))
        return [AllSlotsReset()]

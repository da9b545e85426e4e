"""The user's control over their data: see everything stored about them, and erase it."""

import json
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset
from rasa_sdk.executor import CollectingDispatcher

from actions.journey import load_journey
from actions.replies import custom_payload
from actions.store_access import with_store

CONVERSATION_EVENTS = ("user", "bot")
# The payload that asks the channel to erase its own copies of the conversation (channels/, web/src).
ERASE_CLIENT = "erase_client"


def conversation_summary(tracker: Tracker) -> dict:
    """How much of the conversation is kept, and since when (no message text)."""
    messages = [event for event in tracker.events if event.get("event") in CONVERSATION_EVENTS]
    first = min((event.get("timestamp") for event in messages if event.get("timestamp")), default=None)
    since = datetime.fromtimestamp(first, tz=timezone.utc).isoformat() if first else None
    return {"messages_kept": len(messages), "since": since}


def _situation_line(preparation: dict) -> str:
    """The situation kept for the question list (short codes), e.g. "specialty: oncology, opinion: not_yet"."""
    return ", ".join(f"{key}: {value}" for key, value in preparation.items()) or "nothing"


class ActionShowMyData(Action):
    def name(self) -> str:
        return "action_show_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        journey = load_journey()
        stored = with_store(dispatcher, lambda store: store.export(tracker.sender_id), None)
        if stored is None:
            return []
        document = {"progress": stored, "conversation": conversation_summary(tracker)}
        done = [journey.step(row["step"]).title for row in stored["completed_steps"] if journey.has_step(row["step"])]
        current = stored["current_step"]
        lines = [
            "Here is everything I keep about you:",
            f"• Steps done: {', '.join(done) if done else 'none yet'}",
            f"• Current step: {journey.step(current).title if journey.has_step(current) else 'none'}",
            f"• Notes you asked me to keep: {len(stored['notes'])}",
            f"• Practice conversations: {len(stored['rehearsals'])}",
            f"• For your question list: {_situation_line(stored['preparation'])}",
            f"• Check-ins planned after an appointment: {len(stored['check_ins'])}"
            + (" (with the conversation id, so that I can send them)" if stored["check_ins"] else ""),
            f"• Emergency messages answered (kind and time only): {len(stored['safety_events'])}",
            f"• Conversation messages kept: {document['conversation']['messages_kept']}"
            + (f" (since {document['conversation']['since'][:10]})" if document["conversation"]["since"] else ""),
            "I keep no name, no diagnosis and no contact details; your id is stored only as a one-way hash.",
            "Say “delete my data” at any time to erase all of it.",
        ]
        dispatcher.utter_message(text="\n".join(lines))
        dispatcher.utter_message(json_message=custom_payload("data_export", document=document))
        dispatcher.utter_message(text="The same as a JSON document:\n" + json.dumps(document, indent=2))
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
        dispatcher.utter_message(text="Done. I've deleted your journey progress. If you come back, we'll start fresh.")
        return [AllSlotsReset()]

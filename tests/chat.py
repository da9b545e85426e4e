"""A conversation run through the real actions, turn after turn, in one tracker: each user message and
each action's messages and slot events are kept, as Rasa keeps them, so an action sees what was said."""

import time
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import make_tracker


class Chat:
    def __init__(self, domain: dict[str, Any], sender_id: str = "user-1", slots: dict[str, Any] | None = None):
        self.domain = domain
        self.sender_id = sender_id
        self.slots: dict[str, Any] = dict(slots or {})
        self.events: list[dict] = [{"event": "session_started"}]
        self.turns: list[list[dict]] = []  # the messages each action sent

    async def say(self, intent: str, action, *, text: str = "", entities: list[dict] | None = None) -> list[dict]:
        """The user sends a message with `intent`; `action` (an Action instance) answers it. Returns the
        messages the action sent."""
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": entities or [], "text": text}
        self.events.append({"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse})
        for entity in entities or []:
            if entity.get("entity") in ("specialty", "condition"):
                self.slots[entity["entity"]] = entity["value"]
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            intent, sender_id=self.sender_id, text=text, entities=entities, slots=self.slots, events=self.events
        )
        events = await action.run(dispatcher, tracker, self.domain)
        self.events.append({"event": "action", "name": action.name()})
        for message in dispatcher.messages:
            if message.get("text"):
                self.events.append({"event": "bot", "text": message["text"], "data": {}})
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        self.events.extend(event for event in events if event.get("event") == "slot")
        self.turns.append(dispatcher.messages)
        return dispatcher.messages


def texts_of(messages: list[dict]) -> list[str]:
    return [message["text"] for message in messages if message.get("text")]


def payloads_of(messages: list[dict]) -> list[str]:
    return [button["payload"] for message in messages for button in message.get("buttons") or []]


def words(messages: list[dict]) -> int:
    return sum(len(text.split()) for text in texts_of(messages))

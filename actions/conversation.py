"""What has been said so far in this conversation, read from the tracker's events: the bot's texts since
the session started, and the question the latest step advice answered."""

from rasa_sdk import Tracker

ADVICE_ACTIONS = ("action_give_step_advice", "action_next_step")


def this_session(tracker: Tracker) -> list[dict]:
    """The events since the conversation (the session) started."""
    events = list(tracker.events)
    starts = [index for index, event in enumerate(events) if event.get("event") == "session_started"]
    return events[starts[-1] + 1 :] if starts else events


def bot_texts(tracker: Tracker) -> list[str]:
    """Every text the bot has sent in this conversation, oldest first."""
    return [event["text"] for event in this_session(tracker) if event.get("event") == "bot" and event.get("text")]


def _intent(event: dict) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def last_advice(tracker: Tracker) -> tuple[str, str | None] | None:
    """The latest step advice of this conversation: the action that gave it and the intent of the message
    it answered (None when there is none)."""
    events = this_session(tracker)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "action" and event.get("name") in ADVICE_ACTIONS:
            asked = next((_intent(e) for e in reversed(events[:index]) if e.get("event") == "user"), None)
            return event["name"], asked
    return None

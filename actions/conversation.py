"""What has been said so far in this conversation, read from the tracker's events: the bot's texts since
the session started, the question the latest step advice answered, and the base class of the actions
that talk, which keeps them from saying a sentence twice."""

import abc
import functools
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from secondlook.repeats import drop_repeats, request_of, said_for

ADVICE_ACTIONS = ("action_give_step_advice", "action_next_step")
# The actions that give the current step's advice: a reply right after one of them is about that step.
STEP_ADVICE_ACTIONS = (*ADVICE_ACTIONS, "action_more_advice")


def this_session(tracker: Tracker) -> list[dict]:
    """The events since the conversation (the session) started."""
    events = list(tracker.events)
    starts = [index for index, event in enumerate(events) if event.get("event") == "session_started"]
    return events[starts[-1] + 1 :] if starts else events


def bot_texts(tracker: Tracker) -> list[str]:
    """Every text the bot has sent in this conversation, oldest first."""
    return [event["text"] for event in this_session(tracker) if event.get("event") == "bot" and event.get("text")]


def last_bot_action(tracker: Tracker) -> str | None:
    """The action the bot ran last before the user's latest message (listening and slot filling aside).
    Applied events only: a user message read again in context (actions/fallback_actions.py) is reverted
    with the action that reread it, as Rasa reverts them."""
    skipped = {"action_listen", "action_extract_slots", "action_session_start"}
    return next(
        (
            event.get("name")
            for event in reversed(tracker.applied_events())
            if event.get("event") == "action" and event.get("name") not in skipped
        ),
        None,
    )


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


def _request(event: dict) -> str:
    parse = event.get("parse_data") or {}
    return request_of(_intent(event), parse.get("entities") or [])


def said_so_far(tracker: Tracker) -> dict[str, set[str]]:
    """Every sentence the bot has sent in this conversation, with the requests it answered."""
    turns, request = [], ""
    for event in this_session(tracker):
        if event.get("event") == "user":
            request = _request(event)
        elif event.get("event") == "bot" and event.get("text"):
            turns.append((request, event["text"]))
    return said_for(turns)


class ReplyingAction(Action, metaclass=abc.ABCMeta):
    """An action whose replies never repeat a sentence already sent in this conversation, unless the user
    asked for the same thing again (secondlook/repeats.py). Every action that talks inherits this, so the
    rule lives here, once: `run` is wrapped when a subclass defines it.

    `repeats_allowed = True` keeps a reply whole: a document or a report (a letter, the question list, the
    role-play's summary) must not lose a sentence because an earlier message had it. Safety, privacy and
    session-start actions do not inherit this at all: their words are sent exactly as written."""

    repeats_allowed = False

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so the action server does not take this base class for an action of its own."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if run is None:
            return

        @functools.wraps(run)
        async def run_without_repeats(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict):
            start = len(dispatcher.messages)
            events = await run(self, dispatcher, tracker, domain)
            if not self.repeats_allowed:
                latest = tracker.latest_message or {}
                request = request_of((latest.get("intent") or {}).get("name"), latest.get("entities") or [])
                dispatcher.messages[start:] = drop_repeats(dispatcher.messages[start:], said_so_far(tracker), request)
            return events

        cls.run = run_without_repeats

"""Clarifying question when the NLU is unsure: the likeliest meanings as buttons, plus a way out."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from secondlook.content import content
from secondlook.replies import button, say

MAX_OPTIONS = 3
MIN_CONFIDENCE = 0.05


def intent_labels() -> dict[str, str]:
    return content("intent_labels.yml")


def likely_intents(ranking: list[dict]) -> list[str]:
    """The best-ranked intents that have a readable label, most confident first."""
    labels = intent_labels()
    ordered = sorted(ranking, key=lambda item: item.get("confidence", 0), reverse=True)
    names = [
        item["name"] for item in ordered if item.get("name") in labels and item.get("confidence", 0) >= MIN_CONFIDENCE
    ]
    return names[:MAX_OPTIONS]


class ActionClarifyIntent(Action):
    def name(self) -> str:
        return "action_clarify_intent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        options = likely_intents(tracker.latest_message.get("intent_ranking") or [])
        buttons = [button(intent_labels()[name], name) for name in options]
        buttons.append(button(say("buttons.something_else"), "help"))
        text = say("fallback.did_you_mean") if options else say("fallback.not_understood")
        dispatcher.utter_message(text=text, buttons=buttons)
        return []

"""The clarifying question when the NLU is unsure: one sentence saying what the assistant thinks it
heard and "Is that it?", with the best guess as "Yes, that's it", a close second guess or two as
buttons, and a way out. A person asks like this; a menu of four titles felt like a phone tree."""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ReplyingAction
from secondlook.content import content
from secondlook.journey import Step, load_journey
from secondlook.replies import button, say

MAX_OPTIONS = 3
MIN_CONFIDENCE = 0.05
# A runner-up at least this close to the best guess is offered too; further behind, it is noise.
CLOSE_RATIO = 0.5


def intent_labels() -> dict[str, str]:
    return content("intent_labels.yml")


def understood() -> dict[str, str]:
    return content("understood.yml")


def likely_intents(ranking: list[dict]) -> list[str]:
    """The best-ranked intents that have a readable label, most confident first, close runners-up only."""
    labels = intent_labels()
    ordered = sorted(ranking, key=lambda item: item.get("confidence", 0), reverse=True)
    candidates = [
        item for item in ordered if item.get("name") in labels and item.get("confidence", 0) >= MIN_CONFIDENCE
    ]
    if not candidates:
        return []
    best = candidates[0]["confidence"]
    close = [item["name"] for item in candidates[1:] if item["confidence"] >= CLOSE_RATIO * best]
    return [candidates[0]["name"], *close][:MAX_OPTIONS]


def _current_step_not_done(tracker: Tracker) -> Step | None:
    """The step whose advice the bot gave most recently (`current_step`), unless it is already done."""
    journey = load_journey()
    current = tracker.get_slot("current_step")
    if not journey.has_step(current) or current in (tracker.get_slot("completed_steps") or []):
        return None
    return journey.step(current)


class ActionClarifyIntent(ReplyingAction):
    def name(self) -> str:
        return "action_clarify_intent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        options = likely_intents(tracker.latest_message.get("intent_ranking") or [])
        if not options:
            dispatcher.utter_message(
                text=say("fallback.not_understood"), buttons=[button(say("buttons.something_else"), "help")]
            )
            return []
        best, *others = options
        understood_text, yes = understood()[best], button(say("buttons.yes_thats_it"), best)
        step = _current_step_not_done(tracker) if best == "report_progress" else None
        if step is not None:
            # A report right after a step's advice most likely means that step: one tap credits it.
            understood_text = say("fallback.did_step", number=step.number, title=step.title)
            yes = button(say("buttons.yes_thats_it"), best, journey_step=step.id)
        buttons = [yes]
        buttons += [button(intent_labels()[name], name) for name in others]
        buttons.append(button(say("buttons.something_else"), "help"))
        key = "fallback.or_rather" if others else "fallback.is_that_it"
        dispatcher.utter_message(text=say(key, understood=understood_text), buttons=buttons)
        return []

"""When the NLU is unsure. Right after a step's advice, the message is first read in the light of that
advice: replies to it are what a person most likely says there. Otherwise, or when that reading is
unsure too, the clarifying question: one sentence saying what the assistant thinks it heard and "Is that
it?", with the best guess as "Yes, that's it", a close second guess or two as buttons, and a way out. A
person asks like this; a menu of four titles felt like a phone tree."""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import STEP_ADVICE_ACTIONS, ReplyingAction, last_bot_action
from secondlook.content import content
from secondlook.journey import Step, load_journey
from secondlook.replies import button, say

MAX_OPTIONS = 3
MIN_CONFIDENCE = 0.05
# A runner-up at least this close to the best guess is offered too; further behind, it is noise.
CLOSE_RATIO = 0.5


# Reading in context. What people say right after a step's advice ("let me know how it goes") is mostly a
# reply to it: they did it, the doctor objected, not yet, yes or no. So there, the NLU's opinion of those
# intents counts REPLY_PRIOR times (a prior on what is said at that point, as in Bayes' rule), the ranking
# is renormalised, and a reply whose share reaches the NLU's own fallback threshold (config.yml,
# StepFallbackClassifier) is acted on as if the NLU had said it. Chosen by replaying the NLU's recorded
# rankings (docs/development.md, "Replies in context"): on the studied replies, 5 of the 7 that got the
# clarifying question were read right and 1 wrong; of the journey messages, which are not replies, 4 of the
# studied set's 165 and 4 of the held-out sets' 763 would be read as one if sent at that point.
REPLIES_TO_ADVICE = frozenset(
    {"report_progress", "affirm", "deny", "mention_appointment", "doctor_defensive", "doctor_refuses"}
)
REPLY_PRIOR = 2.0
REREAD_THRESHOLD = 0.3
FALLBACK_INTENT = "nlu_fallback"


def reply_in_context(ranking: list[dict]) -> str | None:
    """The reply to a step's advice that this ranking most likely means at that point, if sure enough."""
    weighted = [
        (item["name"], item.get("confidence", 0.0) * (REPLY_PRIOR if item["name"] in REPLIES_TO_ADVICE else 1.0))
        for item in ranking
        if item.get("name") and item["name"] != FALLBACK_INTENT
    ]
    total = sum(weight for _, weight in weighted)
    if total <= 0:
        return None
    best, weight = max(weighted, key=lambda pair: pair[1])
    return best if best in REPLIES_TO_ADVICE and weight / total >= REREAD_THRESHOLD else None


def read_again_as(tracker: Tracker, intent: str) -> list[EventType]:
    """The events that give the latest message `intent` instead, as Rasa's two-stage fallback does when
    a guess is confirmed: the message (and this action) reverted, then uttered again with that intent and
    the slots its entities filled, so that the rules and stories answer it like any other message."""
    latest = dict(tracker.latest_message)
    confidence = next((item["confidence"] for item in latest.get("intent_ranking") or [] if item["name"] == intent), 0)
    # Rasa checks an action's events against its schema, where an entity's confidence must be a number:
    # spaCy's entities carry None, and one such entity would make Rasa drop every event of this action.
    entities = [
        {key: value for key, value in entity.items() if value is not None or key == "value"}
        for entity in latest.get("entities") or []
    ]
    parse = {**latest, "intent": {"name": intent, "confidence": confidence}, "entities": entities}
    last_user = max((index for index, event in enumerate(tracker.events) if event.get("event") == "user"), default=-1)
    filled = [
        SlotSet(event["name"], event.get("value"))
        for event in tracker.events[last_user + 1 :]
        if event.get("event") == "slot"
    ]
    return [
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        UserUttered(latest.get("text"), parse_data=parse, input_channel=tracker.get_latest_input_channel()),
        *filled,
    ]


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
        ranking = tracker.latest_message.get("intent_ranking") or []
        if last_bot_action(tracker) in STEP_ADVICE_ACTIONS:
            reply = reply_in_context(ranking)
            if reply is not None:
                return read_again_as(tracker, reply)
        options = likely_intents(ranking)
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

"""Actions that move the user through the journey: advice for a step, the next step, reporting a step
done, and the progress checklist. Progress lives in the progress store; the slots mirror it."""

from collections.abc import Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    STEP_ADVICE_ACTIONS,
    ReplyingAction,
    bot_texts,
    last_advice,
    last_bot_action,
)
from actions.fallback_actions import intent_labels
from actions.preparation_actions import note_confirmed_fact
from actions.store_access import with_store
from secondlook.facts import CONFIRM_FACT, pending_fact
from secondlook.journey import Advice, Journey, Step, load_journey
from secondlook.replies import (
    ADVICE_WHY,
    button,
    checklist_text,
    progress_payload,
    rehearsal_line,
    say,
    step_buttons,
)
from secondlook.situation import situation_notes, situation_of

DomainDict = dict[str, Any]

# Lines about the user's situation that go with the one thing to do now; any other waits for "More tips".
LEAD_NOTES = 1
# A message about two things gets the advice of the main one and the other as a button: the best-ranked
# intent of another step, when the NLU gave it at least this share of the main intent's confidence.
OTHER_TOPIC_RATIO = 0.4
MIN_OTHER_TOPIC = 0.1


def _sender(tracker: Tracker) -> str:
    return tracker.sender_id


def _latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _known_completed(journey: Journey, tracker: Tracker, dispatcher: CollectingDispatcher | None) -> list[str]:
    """Completed steps from the store, or from the slot if the store cannot be reached."""
    from_slot = tracker.get_slot("completed_steps") or []
    stored = with_store(dispatcher, lambda store: store.completed_steps(_sender(tracker)), from_slot)
    return journey.in_order(stored)


def _enter_step(tracker: Tracker, step: Step) -> list[SlotSet]:
    with_store(None, lambda store: store.set_current_step(_sender(tracker), step.id), None)
    return [SlotSet("current_step", step.id)]


def other_topic(journey: Journey, ranking: list[dict], step: Step) -> str | None:
    """The intent of the second topic of a message answered with `step`'s advice, if it has one: the
    best-ranked intent that leads to another step, close enough to the top (see OTHER_TOPIC_RATIO)."""
    if not ranking:
        return None
    top = ranking[0].get("confidence") or 0.0
    for item in ranking[1:]:
        other = journey.step_for_intent(item.get("name"))
        if other is None or other.id == step.id:
            continue
        confidence = item.get("confidence") or 0.0
        wanted = confidence >= max(MIN_OTHER_TOPIC, OTHER_TOPIC_RATIO * top)
        return item["name"] if wanted and item["name"] in intent_labels() else None
    return None


def _send_step(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    journey: Journey,
    step: Step,
    tips: tuple[Advice, ...],
    completed: list[str],
    heading: bool,
    second_topic: str | None = None,
) -> None:
    """The one thing to do now: the step's heading (when entering it) and its first tip in one message, a
    line about the user's own situation when they told us something, then buttons for the reasons and
    further tips (action_more_advice), "done" and "what's next", and the stepper state for rich clients."""
    lead = f"{step.heading}\n{tips[0].say}" if heading else tips[0].say
    situation = situation_of(tracker.current_slot_values(), tracker.latest_message)
    texts = [lead, *situation_notes(step.id, situation, heading)[:LEAD_NOTES]]
    for text in texts[:-1]:
        dispatcher.utter_message(text=text)
    buttons = step_buttons(step, more=len(tips) > 1)
    if second_topic is not None:
        buttons.append(button(say("buttons.other_topic", topic=intent_labels()[second_topic]), second_topic))
    dispatcher.utter_message(text=texts[-1], buttons=buttons)
    dispatcher.utter_message(json_message=progress_payload(journey, completed, step.id))


class ActionGiveStepAdvice(ReplyingAction):
    """Advice for the step that matches what the user just asked, focused on their situation."""

    def name(self) -> str:
        return "action_give_step_advice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        journey = load_journey()
        intent = _latest_intent(tracker)
        current = tracker.get_slot("current_step")
        step = journey.step_for_intent(intent) or (
            journey.step(current) if journey.has_step(current) else journey.steps[0]
        )
        completed = journey.in_order(tracker.get_slot("completed_steps") or [])
        second = other_topic(journey, tracker.latest_message.get("intent_ranking") or [], step)
        tips, heading = step.tips(intent), step.id != current
        _send_step(dispatcher, tracker, journey, step, tips, completed, heading=heading, second_topic=second)
        return _enter_step(tracker, step)


class ActionMoreAdvice(ReplyingAction):
    """On request ("Why?", "More tips", or the same in words): the reasons for the tips given so far, or the
    next tip of the step, for the question the latest advice answered."""

    def name(self) -> str:
        return "action_more_advice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        journey = load_journey()
        current = tracker.get_slot("current_step")
        if not journey.has_step(current):
            dispatcher.utter_message(
                text=say("journey.no_advice_yet"), buttons=[button(say("buttons.next_step_for_me"), "next_step")]
            )
            return []
        step = journey.step(current)
        advice = last_advice(tracker)
        asked = advice[1] if advice and advice[0] == "action_give_step_advice" else None
        tips = step.tips(asked if journey.step_for_intent(asked) is step else None)
        said = "\n".join(bot_texts(tracker))
        shown = [tip for tip in tips if tip.say in said] or list(tips[:1])
        unshown = [tip for tip in tips if tip not in shown]
        if _latest_intent(tracker) == ADVICE_WHY:
            reasons = [tip.why for tip in shown]
            # The reasons not given yet; all of them again if the user asks again.
            text = " ".join([why for why in reasons if why not in said] or reasons)
            dispatcher.utter_message(text=text, buttons=step_buttons(step, why=False, more=bool(unshown)))
            return []
        if not unshown:
            text = say("journey.no_more_tips", number=step.number)
            dispatcher.utter_message(text=text, buttons=step_buttons(step, why=False, more=False))
            return []
        situation = situation_of(tracker.current_slot_values(), {})
        notes = [note for note in situation_notes(step.id, situation, True) if note not in said]
        texts = [unshown[0].say, *notes[:LEAD_NOTES]]
        for text in texts[:-1]:
            dispatcher.utter_message(text=text)
        dispatcher.utter_message(text=texts[-1], buttons=step_buttons(step, more=len(unshown) > 1))
        return []


class ActionNextStep(ReplyingAction):
    """Moves to the first step not yet done after the current one and gives its advice."""

    def name(self) -> str:
        return "action_next_step"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        journey = load_journey()
        completed = _known_completed(journey, tracker, dispatcher)
        step = journey.next_step(tracker.get_slot("current_step"), completed)
        if step is None:
            dispatcher.utter_message(
                text=say("journey.all_done"),
                buttons=[button(say("buttons.show_progress"), "ask_progress")],
            )
            return [SlotSet("completed_steps", completed)]

        _send_step(dispatcher, tracker, journey, step, step.tips(None), completed, heading=True)
        return [SlotSet("completed_steps", completed), *_enter_step(tracker, step)]


def _reported_step(journey: Journey, tracker: Tracker) -> str | None:
    values = [
        entity.get("value")
        for entity in tracker.latest_message.get("entities", [])
        if entity.get("entity") == "journey_step"
    ]
    return next((value for value in values if journey.has_step(value)), None)


# A yes/no question the bot asked, remembered so that "yes" or "no" answers it (action_answer_yes_no):
# which step is done, or whether a situation is the user's (CONFIRM_FACT, action_confirm_situation).
CONFIRM_STEP = "confirm_step:"
ASKED_BY = {CONFIRM_STEP: "action_report_progress", CONFIRM_FACT: "action_confirm_situation"}


def _mark_step_done(
    dispatcher: CollectingDispatcher, tracker: Tracker, journey: Journey, completed: list[str], step_id: str
) -> list[str]:
    """Stores the step as done, congratulates, and returns the new list of completed steps."""
    step = journey.step(step_id)
    newly_done = with_store(dispatcher, lambda store: store.mark_done(_sender(tracker), step_id), True)
    completed = journey.in_order([*completed, step_id])
    tally = say("journey.tally", done=len(completed), total=len(journey.steps))
    if newly_done:
        text = say("journey.ticked", number=step.number, title=step.title, tally=tally)
    else:
        text = say("journey.already_ticked", number=step.number, title=step.title, tally=tally)
    buttons = [button(say("buttons.next_step"), "next_step"), button(say("buttons.show_progress"), "ask_progress")]
    if len(completed) == len(journey.steps):
        text += say("journey.whole_journey")
        buttons = [button(say("buttons.show_progress"), "ask_progress")]
    dispatcher.utter_message(text=text, buttons=buttons)
    dispatcher.utter_message(json_message=progress_payload(journey, completed, tracker.get_slot("current_step")))
    return completed


def _ask_which_step(
    dispatcher: CollectingDispatcher, journey: Journey, completed: list[str], likely_id: str | None
) -> None:
    """Asks which step is done: a yes/no question about the likely one when there is one, else a choice."""
    open_steps = [step for step in journey.steps if step.id not in completed]
    if not open_steps:
        dispatcher.utter_message(text=say("journey.nothing_to_mark"))
        return
    likely = journey.step(likely_id) if likely_id else None
    buttons = []
    if likely:
        text = say("journey.confirm_step", number=likely.number, title=likely.title)
        buttons.append(button(say("journey.yes_step", number=likely.number), "report_progress", journey_step=likely.id))
    else:
        text = say("journey.which_step")
    buttons += [
        button(
            say("journey.step_choice", number=step.number, title=step.title), "report_progress", journey_step=step.id
        )
        for step in open_steps
        if step is not likely
    ]
    dispatcher.utter_message(text=text, buttons=buttons)


class ActionReportProgress(ReplyingAction):
    """Marks a step done. When the message does not say which step, asks, offering the likely one first."""

    def name(self) -> str:
        return "action_report_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        journey = load_journey()
        completed = _known_completed(journey, tracker, dispatcher)
        step_id = _reported_step(journey, tracker) or _step_just_advised(journey, tracker, lambda: completed)
        if step_id is None:
            current = tracker.get_slot("current_step")
            likely = current if journey.has_step(current) and current not in completed else None
            _ask_which_step(dispatcher, journey, completed, likely)
            question = f"{CONFIRM_STEP}{likely}" if likely else None
            return [SlotSet("completed_steps", completed), SlotSet("awaiting_answer", question)]

        completed = _mark_step_done(dispatcher, tracker, journey, completed, step_id)
        return [SlotSet("completed_steps", completed), SlotSet("awaiting_answer", None)]


def _step_just_advised(journey: Journey, tracker: Tracker, completed: Callable[[], list[str]]) -> str | None:
    """A report that names no step, sent right after a step's advice, is about that step ("did that
    yesterday, she was fine with it"): the `current_step` slot, when the bot's last action gave its
    advice and the step is not done yet. `completed` is asked only then (it may read the store)."""
    current = tracker.get_slot("current_step")
    if not journey.has_step(current) or last_bot_action(tracker) not in STEP_ADVICE_ACTIONS:
        return None
    return current if current not in completed() else None


def _question_just_asked(tracker: Tracker) -> str | None:
    """The yes/no question pending, but only if the bot's last action asked it: a "yes" three turns later
    answers nothing."""
    question = tracker.get_slot("awaiting_answer")
    asked_by = next((action for prefix, action in ASKED_BY.items() if question and question.startswith(prefix)), None)
    return question if asked_by and last_bot_action(tracker) == asked_by else None


class ActionAnswerYesNo(ReplyingAction):
    """Gives "yes" and "no" the meaning of the question the bot just asked; a "no" right after a step's
    advice means "not yet" (that step waits, practising it is offered); otherwise asks what next."""

    def name(self) -> str:
        return "action_answer_yes_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        question = _question_just_asked(tracker)
        said_yes = _latest_intent(tracker) == "affirm"
        fact = pending_fact(question)
        if fact is not None:
            note_confirmed_fact(dispatcher, tracker, *fact, said_yes)
            return [SlotSet("awaiting_answer", None)]
        journey = load_journey()
        if question and question.startswith(CONFIRM_STEP):
            step_id = question.removeprefix(CONFIRM_STEP)
            completed = _known_completed(journey, tracker, dispatcher)
            if said_yes and journey.has_step(step_id):
                completed = _mark_step_done(dispatcher, tracker, journey, completed, step_id)
            else:
                dispatcher.utter_message(text=say("journey.no_problem"))
                _ask_which_step(dispatcher, journey, completed, None)
            return [SlotSet("completed_steps", completed), SlotSet("awaiting_answer", None)]

        not_yet = (
            None
            if said_yes
            else _step_just_advised(journey, tracker, lambda: _known_completed(journey, tracker, dispatcher))
        )
        if not_yet is not None:
            # "not yet", "going to ask her next week" right after a step's advice: that step is not done.
            step = journey.step(not_yet)
            dispatcher.utter_message(
                text=say("journey.not_yet", number=step.number, title=step.title),
                buttons=[
                    button(say("buttons.start_rehearsal"), "start_rehearsal"),
                    button(say("buttons.next_step_for_me"), "next_step"),
                ],
            )
            return [SlotSet("awaiting_answer", None)]
        dispatcher.utter_message(
            text=say("journey.what_next"),
            buttons=[
                button(say("buttons.next_step_for_me"), "next_step"),
                button(say("buttons.show_progress"), "ask_progress"),
                button(say("buttons.help"), "help"),
            ],
        )
        return [SlotSet("awaiting_answer", None)]


class ActionShowProgress(ReplyingAction):
    """The checklist: done, current and next steps."""

    def name(self) -> str:
        return "action_show_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        journey = load_journey()
        completed = _known_completed(journey, tracker, dispatcher)
        current = tracker.get_slot("current_step")
        upcoming = journey.next_step(current, completed)
        buttons = [button(say("buttons.next_step"), "next_step")] if upcoming else []
        practised = with_store(None, lambda store: store.rehearsals(_sender(tracker)), [])
        text = checklist_text(journey, completed, current) + rehearsal_line(practised)
        buttons.append(button(say("buttons.start_rehearsal"), "start_rehearsal"))
        dispatcher.utter_message(text=text, buttons=buttons)
        dispatcher.utter_message(json_message=progress_payload(journey, completed, current))
        return [SlotSet("completed_steps", completed)]

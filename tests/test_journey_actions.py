"""Journey actions with real Rasa SDK objects: the events they return, the messages they send, and
what they leave in the progress store."""

import pytest
from rasa_sdk.events import SlotSet

from actions.journey_actions import (
    ActionAnswerYesNo,
    ActionGiveStepAdvice,
    ActionMoreAdvice,
    ActionNextStep,
    ActionReportProgress,
    ActionShowProgress,
)
from secondlook.journey import load_journey
from tests.conftest import customs, make_tracker, payloads, texts

STEP_ENTITY = "journey_step"


def _bot_events(dispatcher, action: str) -> list[dict]:
    """The events the bot's turn leaves in the tracker: the action, then each message it sent."""
    said = [{"event": "bot", "text": message["text"]} for message in dispatcher.messages if message.get("text")]
    return [{"event": "action", "name": action}, *said]


def slot_values(events) -> dict:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


@pytest.mark.parametrize(
    "intent,step_id",
    [
        ("doubt_diagnosis", "ask_doctor"),
        ("ask_second_opinion_worth", "ask_doctor"),
        ("ask_how_to_raise", "ask_doctor"),
        ("fear_offending_doctor", "be_honest"),
        ("ask_find_specialist", "outside_network"),
        ("ask_same_network", "outside_network"),
        ("ask_records", "outside_network"),
        ("ask_insurance_referral", "move_on"),
        ("doctor_defensive", "move_on"),
        ("doctor_refuses", "move_on"),
        ("opinions_differ", "after_opinion"),
        ("opinions_agree", "after_opinion"),
        ("relationship_changed", "after_opinion"),
    ],
)
async def test_advice_matches_the_question_and_sets_the_current_step(intent, step_id, dispatcher, domain, store):
    events = await ActionGiveStepAdvice().run(dispatcher, make_tracker(intent), domain)
    step = load_journey().step(step_id)

    assert events == [SlotSet("current_step", step_id)]
    # The one thing to do now, under the step's heading; the reasons and the other tips only on request.
    [sent] = texts(dispatcher)
    lead, *others = step.topics[intent]
    assert sent == f"{step.heading}\n{lead.say}"
    assert all(other.say not in sent for other in others) and lead.why not in sent
    assert payloads(dispatcher) == [
        "/advice_why",
        "/advice_more",
        f'/report_progress{{"{STEP_ENTITY}":"{step_id}"}}',
        "/next_step",
    ]
    assert store.current_step("user-1") == step_id


async def test_advice_within_the_same_step_skips_the_heading(dispatcher, domain, store):
    tracker = make_tracker("ask_records", slots={"current_step": "outside_network"})
    await ActionGiveStepAdvice().run(dispatcher, tracker, domain)
    assert not any(message.startswith("Step 3 of 5") for message in texts(dispatcher))


async def test_next_step_walks_through_all_five_steps(dispatcher, domain, store):
    current, visited = None, []
    for _ in range(5):
        dispatcher.messages.clear()
        events = await ActionNextStep().run(
            dispatcher, make_tracker("next_step", slots={"current_step": current}), domain
        )
        current = slot_values(events)["current_step"]
        visited.append(current)
        assert texts(dispatcher)[0].startswith(load_journey().step(current).heading)
    assert visited == ["ask_doctor", "be_honest", "outside_network", "move_on", "after_opinion"]


async def test_next_step_skips_steps_already_done(dispatcher, domain, store):
    store.mark_done("user-1", "be_honest")
    store.mark_done("user-1", "outside_network")
    events = await ActionNextStep().run(
        dispatcher, make_tracker("next_step", slots={"current_step": "ask_doctor"}), domain
    )
    assert slot_values(events) == {"completed_steps": ["be_honest", "outside_network"], "current_step": "move_on"}


async def test_next_step_when_everything_is_done(dispatcher, domain, store):
    for step in load_journey().steps:
        store.mark_done("user-1", step.id)
    events = await ActionNextStep().run(dispatcher, make_tracker("next_step"), domain)
    assert "current_step" not in slot_values(events)
    assert "all five steps" in texts(dispatcher)[0]


async def test_reporting_a_named_step_marks_it_done(dispatcher, domain, store):
    tracker = make_tracker("report_progress", entities=[{"entity": STEP_ENTITY, "value": "be_honest"}])
    events = await ActionReportProgress().run(dispatcher, tracker, domain)
    assert events == [SlotSet("completed_steps", ["be_honest"]), SlotSet("awaiting_answer", None)]
    assert store.completed_steps("user-1") == ["be_honest"]
    assert "ticked off step 2" in texts(dispatcher)[0]


async def test_reporting_a_step_twice_says_so(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    tracker = make_tracker("report_progress", entities=[{"entity": STEP_ENTITY, "value": "ask_doctor"}])
    await ActionReportProgress().run(dispatcher, tracker, domain)
    assert "already ticked off" in texts(dispatcher)[0]
    assert store.completed_steps("user-1") == ["ask_doctor"]


async def test_an_ambiguous_report_asks_for_confirmation_first(dispatcher, domain, store):
    tracker = make_tracker("report_progress", text="done!", slots={"current_step": "outside_network"})
    events = await ActionReportProgress().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []
    assert events == [SlotSet("completed_steps", []), SlotSet("awaiting_answer", "confirm_step:outside_network")]
    assert "do you mean step 3" in texts(dispatcher)[0]
    options = payloads(dispatcher)
    assert options[0] == '/report_progress{"journey_step":"outside_network"}'
    assert len(options) == 5


def _after(action: str, text: str) -> list[dict]:
    """Events of a conversation where the bot ran `action`, then the user said `text`."""
    return [
        {"event": "action", "name": action},
        {"event": "bot", "text": "Some advice."},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": "report_progress"}}},
    ]


@pytest.mark.parametrize("advice", ["action_give_step_advice", "action_next_step", "action_more_advice"])
async def test_a_report_right_after_a_steps_advice_credits_that_step(advice, dispatcher, domain, store):
    text = "spoke to him after the scan, he was fine with it"
    tracker = make_tracker(
        "report_progress", text=text, slots={"current_step": "ask_doctor"}, events=_after(advice, text)
    )
    events = await ActionReportProgress().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == ["ask_doctor"]
    assert events == [SlotSet("completed_steps", ["ask_doctor"]), SlotSet("awaiting_answer", None)]
    assert "ticked off step 1" in texts(dispatcher)[0]


@pytest.mark.parametrize("earlier", ["action_show_progress", "action_answer_yes_no"])
async def test_a_report_after_something_else_still_asks_which_step(earlier, dispatcher, domain, store):
    tracker = make_tracker(
        "report_progress", text="done", slots={"current_step": "ask_doctor"}, events=_after(earlier, "done")
    )
    await ActionReportProgress().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []
    assert "do you mean step 1" in texts(dispatcher)[0]


async def test_a_report_after_the_advice_of_a_step_already_done_asks(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    events = _after("action_give_step_advice", "done")
    tracker = make_tracker("report_progress", text="done", slots={"current_step": "ask_doctor"}, events=events)
    await ActionReportProgress().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == ["ask_doctor"]
    assert "Which step" in texts(dispatcher)[0]


async def test_a_report_with_no_current_step_lists_the_open_steps(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    await ActionReportProgress().run(dispatcher, make_tracker("report_progress", text="did it"), domain)
    assert "Which step" in texts(dispatcher)[0]
    assert payloads(dispatcher) == [
        f'/report_progress{{"journey_step":"{step}"}}'
        for step in ["be_honest", "outside_network", "move_on", "after_opinion"]
    ]


async def test_an_unknown_step_value_is_not_recorded(dispatcher, domain, store):
    tracker = make_tracker("report_progress", entities=[{"entity": STEP_ENTITY, "value": "drop table"}])
    await ActionReportProgress().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []


async def test_progress_checklist_shows_done_current_and_next(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    tracker = make_tracker("ask_progress", slots={"current_step": "be_honest"})
    events = await ActionShowProgress().run(dispatcher, tracker, domain)
    checklist = texts(dispatcher)[0]
    assert "✅ 1. Ask your doctor first" in checklist
    assert "👉 2. Be honest about why (you are here)" in checklist
    assert "(next)" in checklist.splitlines()[3]
    assert "1 of 5 steps done." in checklist
    assert events == [SlotSet("completed_steps", ["ask_doctor"])]


async def test_progress_of_one_user_is_invisible_to_another(dispatcher, domain, store):
    store.mark_done("someone-else", "ask_doctor")
    await ActionShowProgress().run(dispatcher, make_tracker("ask_progress"), domain)
    assert "0 of 5 steps done." in texts(dispatcher)[0]


async def test_a_dead_database_gets_an_honest_reply_and_the_slot_is_kept(dispatcher, domain, store_down):
    store_down("completed_steps")
    tracker = make_tracker("ask_progress", slots={"completed_steps": ["ask_doctor"]})
    events = await ActionShowProgress().run(dispatcher, tracker, domain)
    assert "couldn't reach your saved progress" in texts(dispatcher)[0]
    assert events == [SlotSet("completed_steps", ["ask_doctor"])]


async def test_progress_shows_the_rehearsals_practised(dispatcher, domain, store):
    store.record_rehearsal("user-1", "ask_opinion", "rushed", 4, True)
    store.record_rehearsal("user-1", "referral", "supportive", 2, False)
    await ActionShowProgress().run(dispatcher, make_tracker("ask_progress"), domain)
    assert "Practised the conversation 2 times (doctors: rushed, supportive)." in texts(dispatcher)[0]
    assert "/start_rehearsal" in payloads(dispatcher)


async def test_journey_replies_carry_the_stepper_state_for_rich_clients(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    tracker = make_tracker("ask_records", slots={"completed_steps": ["ask_doctor"]})
    await ActionGiveStepAdvice().run(dispatcher, tracker, domain)
    [progress] = customs(dispatcher, "journey_progress")
    assert [(step["id"], step["status"]) for step in progress["steps"]] == [
        ("ask_doctor", "done"),
        ("be_honest", "todo"),
        ("outside_network", "current"),
        ("move_on", "next"),
        ("after_opinion", "todo"),
    ]


def _after_the_bot_asked(intent: str, question: str | None, last_action: str = "action_report_progress"):
    """A tracker where the bot's last action was `last_action` and the user then said yes or no."""
    events = [
        {"event": "user", "text": "done", "parse_data": {"intent": {"name": "report_progress"}}},
        {"event": "action", "name": last_action},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "yes" if intent == "affirm" else "no", "parse_data": {"intent": {"name": intent}}},
        {"event": "action", "name": "action_extract_slots"},
    ]
    return make_tracker(intent, slots={"current_step": "be_honest", "awaiting_answer": question}, events=events)


async def test_yes_confirms_the_step_the_bot_just_asked_about(dispatcher, domain, store):
    tracker = _after_the_bot_asked("affirm", "confirm_step:be_honest")
    events = await ActionAnswerYesNo().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == ["be_honest"]
    assert "ticked off step 2" in texts(dispatcher)[0]
    assert slot_values(events) == {"completed_steps": ["be_honest"], "awaiting_answer": None}


async def test_no_to_the_likely_step_offers_the_others_and_stores_nothing(dispatcher, domain, store):
    tracker = _after_the_bot_asked("deny", "confirm_step:be_honest")
    await ActionAnswerYesNo().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []
    assert "Which step have you done?" in texts(dispatcher)[1]
    assert len(payloads(dispatcher)) == 5


@pytest.mark.parametrize("advice", ["action_give_step_advice", "action_next_step", "action_more_advice"])
async def test_not_yet_right_after_a_steps_advice_leaves_it_open_and_offers_practice(advice, dispatcher, domain, store):
    tracker = _after_the_bot_asked("deny", None, last_action=advice)
    events = await ActionAnswerYesNo().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []
    assert texts(dispatcher) == [
        "No rush: step 2, “Be honest about why”, will be here when you're ready. Saying it out loud first can "
        "make it easier: I can play your doctor while you practise."
    ]
    assert payloads(dispatcher) == ["/start_rehearsal", "/next_step"]
    assert slot_values(events) == {"awaiting_answer": None}


async def test_not_yet_after_the_advice_of_a_step_already_done_asks_what_next(dispatcher, domain, store):
    store.mark_done("user-1", "be_honest")
    tracker = _after_the_bot_asked("deny", None, last_action="action_give_step_advice")
    await ActionAnswerYesNo().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == ["Okay. What would you like to do next?"]


async def test_a_late_yes_answers_no_old_question(dispatcher, domain, store):
    tracker = _after_the_bot_asked("affirm", "confirm_step:be_honest", last_action="action_show_progress")
    await ActionAnswerYesNo().run(dispatcher, tracker, domain)
    assert store.completed_steps("user-1") == []
    assert texts(dispatcher) == ["Okay. What would you like to do next?"]


async def test_advice_names_the_specialist_the_condition_and_an_upcoming_date(dispatcher, domain, store):
    message = "where do i find another heart doctor for my afib, i see him next tuesday"
    entities = [
        {"entity": "specialty", "value": "cardiology", "start": 27, "end": 39},
        {"entity": "condition", "value": "atrial fibrillation", "start": 48, "end": 52},
        {"entity": "DATE", "value": "next tuesday", "start": 63, "end": 75},
    ]
    tracker = make_tracker("ask_find_specialist", text=message, entities=entities, slots={"specialty": "cardiology"})
    await ActionGiveStepAdvice().run(dispatcher, tracker, domain)
    said = "\n".join(texts(dispatcher))
    # The most time-sensitive line goes with the advice; the specialty waits for "More tips".
    assert "You mentioned next tuesday" in said
    assert "cardiologist" not in said
    assert '/report_progress{"journey_step":"outside_network"}' in payloads(dispatcher)
    tracker = make_tracker(
        "advice_more",
        slots={"specialty": "cardiology", "current_step": "outside_network"},
        events=[*tracker.events, *_bot_events(dispatcher, "action_give_step_advice")],
    )
    dispatcher.messages.clear()
    await ActionMoreAdvice().run(dispatcher, tracker, domain)
    assert "a cardiologist at a different hospital" in "\n".join(texts(dispatcher))


async def test_a_past_date_or_a_duration_is_not_taken_for_an_appointment(dispatcher, domain, store):
    for message, date in [("my gp told me last week", "last week"), ("i've had it for two years", "two years")]:
        start = message.index(date)
        entities = [{"entity": "DATE", "value": date, "start": start, "end": start + len(date)}]
        dispatcher.messages.clear()
        await ActionGiveStepAdvice().run(
            dispatcher, make_tracker("doubt_diagnosis", text=message, entities=entities), domain
        )
        assert "You mentioned" not in "\n".join(texts(dispatcher))


async def test_a_remembered_specialty_is_not_repeated_within_a_step(dispatcher, domain, store):
    tracker = make_tracker("ask_records", slots={"specialty": "oncology", "current_step": "outside_network"})
    await ActionGiveStepAdvice().run(dispatcher, tracker, domain)
    assert "oncologist" not in "\n".join(texts(dispatcher))
    dispatcher.messages.clear()
    tracker = make_tracker("doctor_refuses", slots={"specialty": "oncology", "current_step": "outside_network"})
    await ActionGiveStepAdvice().run(dispatcher, tracker, domain)
    assert "If this oncologist will not help" in "\n".join(texts(dispatcher))


async def test_a_second_topic_of_another_step_is_offered_under_the_advice(dispatcher, domain, store):
    # A story about a refused referral that also worries about offending the doctor: step 4's advice, and
    # step 2's topic one tap away. An intent of the same step, or one far behind, is not offered.
    ranking = [
        {"name": "doctor_refuses", "confidence": 0.45},
        {"name": "doctor_defensive", "confidence": 0.25},
        {"name": "fear_offending_doctor", "confidence": 0.2},
        {"name": "ask_records", "confidence": 0.05},
    ]
    await ActionGiveStepAdvice().run(dispatcher, make_tracker("doctor_refuses", intent_ranking=ranking), domain)
    buttons = dispatcher.messages[-2]["buttons"]
    assert buttons[-1] == {"title": "Also: I'm afraid of offending my doctor", "payload": "/fear_offending_doctor"}
    assert payloads(dispatcher).count("/doctor_defensive") == 0 and "/ask_records" not in payloads(dispatcher)


async def test_no_second_topic_when_the_others_are_far_behind(dispatcher, domain, store):
    ranking = [{"name": "ask_records", "confidence": 0.8}, {"name": "doctor_refuses", "confidence": 0.3}]
    await ActionGiveStepAdvice().run(dispatcher, make_tracker("ask_records", intent_ranking=ranking), domain)
    assert payloads(dispatcher)[-1] == "/next_step"

"""The role-play actions with real Rasa SDK objects: set-up by buttons, each line answered and coached,
the end summarised and recorded."""

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.rehearsal_actions import (
    ActionAskRehearsalLine,
    ActionEndRehearsal,
    ActionStartRehearsal,
    ValidateRehearsalForm,
)
from secondlook import rehearsal
from tests.conftest import make_tracker, payloads, texts


def setup_entities(**values: str) -> list[dict]:
    """What a button's payload gives (Rasa names its RegexMessageHandler as the extractor)."""
    return [
        {"entity": f"rehearsal_{name}", "value": value, "extractor": "RegexMessageHandler"}
        for name, value in values.items()
    ]


async def test_start_offers_the_three_scenarios(dispatcher, domain):
    events = await ActionStartRehearsal().run(dispatcher, make_tracker("start_rehearsal"), domain)
    assert events == [SlotSet("rehearsal_active", False)]
    assert payloads(dispatcher) == [
        f'/start_rehearsal{{"rehearsal_scenario":"{name}"}}' for name in rehearsal.SCENARIOS
    ]


async def test_then_the_three_temperaments_keeping_the_scenario(dispatcher, domain):
    tracker = make_tracker("start_rehearsal", entities=setup_entities(scenario="referral"))
    await ActionStartRehearsal().run(dispatcher, tracker, domain)
    assert payloads(dispatcher) == [
        f'/start_rehearsal{{"rehearsal_scenario":"referral","rehearsal_temperament":"{name}"}}'
        for name in rehearsal.TEMPERAMENTS
    ]


def typed_entities(**values: str) -> list[dict]:
    """What the NLU gives for a request in words (pipeline/rehearsal_request.py)."""
    return [
        {"entity": f"rehearsal_{name}", "value": value, "extractor": "RehearsalRequestReader"}
        for name, value in values.items()
    ]


@pytest.mark.parametrize(
    ("scenario", "doctor"),
    [("ask_opinion", "supportive"), ("referral", "supportive"), ("defensive", "defensive")],
)
async def test_a_request_in_words_that_names_the_scenario_starts_at_once(scenario, doctor, dispatcher, domain):
    """ "I'd like to practise how I'd ask my cardiologist": no menu, the doctor that scenario is about."""
    tracker = make_tracker("start_rehearsal", entities=typed_entities(scenario=scenario))
    events = await ActionStartRehearsal().run(dispatcher, tracker, domain)
    slots = {event["name"]: event["value"] for event in events}
    assert slots["rehearsal_active"] is True
    state = rehearsal.RehearsalState.from_dict(slots["rehearsal_state"])
    assert (state.scenario, state.temperament) == (scenario, doctor)
    assert payloads(dispatcher) == []
    assert texts(dispatcher)[1].startswith("🩺 Doctor: ")


async def test_a_request_that_names_only_the_doctor_keeps_it_through_the_scenario_menu(dispatcher, domain):
    tracker = make_tracker("start_rehearsal", entities=typed_entities(temperament="rushed"))
    events = await ActionStartRehearsal().run(dispatcher, tracker, domain)
    assert events == [SlotSet("rehearsal_active", False)]
    assert payloads(dispatcher) == [
        f'/start_rehearsal{{"rehearsal_scenario":"{name}","rehearsal_temperament":"rushed"}}'
        for name in rehearsal.SCENARIOS
    ]


async def test_an_unknown_choice_is_asked_again(dispatcher, domain):
    tracker = make_tracker("start_rehearsal", entities=setup_entities(scenario="<script>"))
    events = await ActionStartRehearsal().run(dispatcher, tracker, domain)
    assert events == [SlotSet("rehearsal_active", False)]
    assert len(payloads(dispatcher)) == len(rehearsal.SCENARIOS)


async def test_once_chosen_the_doctor_opens(dispatcher, domain):
    tracker = make_tracker("start_rehearsal", entities=setup_entities(scenario="ask_opinion", temperament="rushed"))
    events = await ActionStartRehearsal().run(dispatcher, tracker, domain)
    slots = {event["name"]: event["value"] for event in events}
    assert slots["rehearsal_active"] is True
    state = rehearsal.RehearsalState.from_dict(slots["rehearsal_state"])
    assert (state.scenario, state.temperament, state.turns) == ("ask_opinion", "rushed", [])
    confirmation = texts(dispatcher)[0]
    assert confirmation.startswith("Let's practise asking your doctor about a second opinion. I'll play a rushed")
    assert texts(dispatcher)[1].startswith("🩺 Doctor: ")


async def test_every_confirmation_reads_naturally(dispatcher, domain):
    """Not "Okay: handle a defensive doctor, with a defensive doctor.": what is practised, then who plays whom,
    each said once."""
    for scenario in rehearsal.SCENARIOS:
        for temperament in rehearsal.TEMPERAMENTS:
            dispatcher.messages.clear()
            chosen = setup_entities(scenario=scenario, temperament=temperament)
            tracker = make_tracker("start_rehearsal", entities=chosen)
            await ActionStartRehearsal().run(dispatcher, tracker, domain)
            confirmation = texts(dispatcher)[0]
            assert confirmation.startswith(f"Let's practise {rehearsal.scenario_practise(scenario)}. ")
            assert f"I'll play {rehearsal.temperament_in_sentence(temperament)}:" in confirmation
            assert confirmation.count("doctor") <= 2 and "Okay:" not in confirmation
            assert rehearsal.scenario_title(scenario).lower() not in confirmation


def running(state: rehearsal.RehearsalState, line: str):
    return make_tracker(
        "doubt_diagnosis",
        text=line,
        slots={"rehearsal_state": state.to_dict(), "rehearsal_active": True, "requested_slot": "rehearsal_line"},
    )


async def test_a_line_is_answered_and_coached_and_the_form_keeps_listening(dispatcher, domain):
    state = rehearsal.start("ask_opinion", "defensive")
    line = "I am really worried about this, it is a big diagnosis for my family"  # a reason, but no question yet
    result = ValidateRehearsalForm().validate_rehearsal_line(line, dispatcher, running(state, line), domain)
    assert result["rehearsal_line"] is None
    assert result["line_assessment"] == ["honest_reason"]
    assert rehearsal.RehearsalState.from_dict(result["rehearsal_state"]).turns == [result["line_assessment"]]
    doctor, coach = texts(dispatcher)
    assert doctor.startswith("🩺 Doctor: ") and coach.startswith("💬 Coach: ")


async def test_the_role_play_finishes_after_the_last_line(dispatcher, domain):
    state = rehearsal.start("ask_opinion", "defensive")
    result = {}
    for _ in range(rehearsal.MAX_TURNS):
        line = "you clearly got this wrong, I'm going elsewhere"
        result = ValidateRehearsalForm().validate_rehearsal_line(line, dispatcher, running(state, line), domain)
        state = rehearsal.RehearsalState.from_dict(result["rehearsal_state"])
        if result["rehearsal_line"] is not None:
            break
    assert result["rehearsal_line"] is not None, "the form never finished"
    assert "accusatory" in result["line_assessment"]
    assert 1 <= len(state.turns) <= rehearsal.MAX_TURNS


async def test_a_lost_state_ends_the_role_play_cleanly(dispatcher, domain):
    tracker = make_tracker("doubt_diagnosis", text="hello", slots={"rehearsal_state": {"garbage": 1}})
    result = ValidateRehearsalForm().validate_rehearsal_line("hello", dispatcher, tracker, domain)
    assert result["rehearsal_line"] and result["rehearsal_state"] is None


async def test_the_first_prompt_cues_the_user_then_stays_quiet(dispatcher, domain):
    fresh = rehearsal.start("referral", "supportive")
    await ActionAskRehearsalLine().run(dispatcher, running(fresh, ""), domain)
    assert len(dispatcher.messages) == 1
    dispatcher.messages.clear()
    fresh.turns.append(["asks_opinion"])
    await ActionAskRehearsalLine().run(dispatcher, running(fresh, ""), domain)
    assert dispatcher.messages == []


async def test_the_end_summarises_records_and_closes(dispatcher, domain, store):
    state = rehearsal.start("ask_opinion", "supportive")
    state.turns.extend([["asks_opinion", "honest_reason"], ["requests_referral"]])
    tracker = make_tracker(
        "stop_rehearsal", slots={"rehearsal_state": state.to_dict(), "requested_slot": "rehearsal_line"}
    )
    events = await ActionEndRehearsal().run(dispatcher, tracker, domain)
    assert events[0] == ActiveLoop(None)
    assert SlotSet("rehearsal_active", False) in events and SlotSet("rehearsal_state", None) in events
    assert texts(dispatcher) == rehearsal.summary(state)
    # It ends with what it offers, as buttons on the last message: the same talk with the next doctor,
    # another scenario, or back to the journey.
    assert dispatcher.messages[-1]["buttons"] == [
        {
            "title": "Again, with a rushed doctor",
            "payload": '/start_rehearsal{"rehearsal_scenario":"ask_opinion","rehearsal_temperament":"rushed"}',
        },
        {"title": "Practise something else", "payload": "/start_rehearsal"},
        {"title": "What's next for me?", "payload": "/next_step"},
    ]
    [kept] = store.rehearsals("user-1")
    assert (kept["scenario"], kept["temperament"], kept["lines"], kept["finished"]) == (
        "ask_opinion",
        "supportive",
        2,
        False,
    )


async def test_stopping_before_any_line_records_nothing(dispatcher, domain, store):
    state = rehearsal.start("ask_opinion", "supportive")
    await ActionEndRehearsal().run(
        dispatcher, make_tracker("stop_rehearsal", slots={"rehearsal_state": state.to_dict()}), domain
    )
    assert "stopped practising" in texts(dispatcher)[0]
    assert payloads(dispatcher) == ["/start_rehearsal", "/next_step"]
    assert store.rehearsals("user-1") == []


async def test_reaching_the_goal_early_finishes_the_role_play(dispatcher, domain):
    state = rehearsal.start("ask_opinion", "supportive")
    line = "Would a second opinion make sense here? I just want peace of mind."
    result = ValidateRehearsalForm().validate_rehearsal_line(line, dispatcher, running(state, line), domain)
    assert result["rehearsal_line"] == line


async def test_an_empty_or_reset_value_is_not_a_line(dispatcher, domain):
    state = rehearsal.start("ask_opinion", "rushed")
    for value in (None, "", "   "):
        result = ValidateRehearsalForm().validate_rehearsal_line(value, dispatcher, running(state, ""), domain)
        assert result == {"rehearsal_line": None}
    assert dispatcher.messages == []


async def test_starting_does_not_touch_the_line_slot(dispatcher, domain):
    """Setting rehearsal_line here would make the form validate it as a (blank) first line."""
    tracker = make_tracker("start_rehearsal", entities=setup_entities(scenario="ask_opinion", temperament="rushed"))
    events = await ActionStartRehearsal().run(dispatcher, tracker, domain)
    assert all(event["name"] != "rehearsal_line" for event in events)

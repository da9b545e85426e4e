"""The clarifying question is asked when the NLU is unsure what to do, not when two intents that lead to
the same journey step share the confidence (pipeline/step_fallback.py)."""

import pytest
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.training_data.message import Message

from pipeline.step_fallback import StepFallbackClassifier, pooled_by_group

CONFIG = {"threshold": 0.3, "ambiguity_threshold": 0.05}


def classified(*ranking: tuple[str, float]) -> Message:
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={"text": "a long story", "intent": intents[0], "intent_ranking": intents, "entities": []})


def decided(component: FallbackClassifier, *ranking: tuple[str, float]) -> str:
    return component.process([classified(*ranking)])[0].get("intent")["name"]


@pytest.fixture
def step_fallback() -> StepFallbackClassifier:
    return StepFallbackClassifier({**StepFallbackClassifier.get_default_config(), **CONFIG})


@pytest.fixture
def rasa_fallback() -> FallbackClassifier:
    return FallbackClassifier({**FallbackClassifier.get_default_config(), **CONFIG})


def test_two_intents_of_one_step_are_not_a_doubt(step_fallback, rasa_fallback):
    # Both lead to step 1 (ask_doctor): Rasa's check asks, this one answers with the top intent.
    ranking = [("doubt_diagnosis", 0.28), ("ask_second_opinion_worth", 0.26), ("help", 0.1)]
    assert decided(rasa_fallback, *ranking) == "nlu_fallback"
    assert decided(step_fallback, *ranking) == "doubt_diagnosis"


def test_two_steps_neck_and_neck_still_ask(step_fallback):
    # A refused referral (step 4) against fear of offending the doctor (step 2): a real doubt.
    assert decided(step_fallback, ("doctor_refuses", 0.34), ("fear_offending_doctor", 0.32)) == "nlu_fallback"


def test_a_step_ahead_of_the_others_is_answered(step_fallback):
    ranking = [("doctor_refuses", 0.3), ("doctor_defensive", 0.2), ("fear_offending_doctor", 0.28)]
    assert decided(step_fallback, *ranking) == "doctor_refuses"  # step 4 pooled 0.5 against step 2's 0.28


def test_a_top_intent_whose_step_is_outweighed_asks(step_fallback):
    # fear_offending_doctor leads alone, but step 4's two intents together weigh more: unclear, so ask.
    ranking = [("fear_offending_doctor", 0.3), ("doctor_refuses", 0.25), ("doctor_defensive", 0.2)]
    assert decided(step_fallback, *ranking) == "nlu_fallback"


def test_intents_outside_the_journey_stand_alone(step_fallback):
    # report_progress and next_step lead to no step of their own: no pooling, 0.25 is under the threshold.
    assert decided(step_fallback, ("report_progress", 0.25), ("next_step", 0.24), ("greet", 0.1)) == "nlu_fallback"


def test_a_low_step_is_still_a_doubt(step_fallback):
    ranking = [("ask_records", 0.15), ("ask_find_specialist", 0.1), ("greet", 0.09), ("thank", 0.08)]
    assert decided(step_fallback, *ranking) == "nlu_fallback"


def test_the_fallback_keeps_the_ranking_for_the_clarifying_question(step_fallback):
    message = step_fallback.process([classified(("report_progress", 0.2), ("next_step", 0.15))])[0]
    assert [item["name"] for item in message.get("intent_ranking")] == ["nlu_fallback", "report_progress", "next_step"]


def test_pooling_sums_each_steps_intents():
    ranking = [{"name": "a", "confidence": 0.2}, {"name": "b", "confidence": 0.3}, {"name": "c", "confidence": 0.1}]
    assert pooled_by_group(ranking, {"a": "step", "b": "step"}) == pytest.approx({"step": 0.5, "c": 0.1})

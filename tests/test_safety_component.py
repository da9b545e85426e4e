"""The safety screen inside the NLU pipeline: it overrides the classifier on an emergency, and overrules
the classifier's emergency net on near misses and unsure guesses."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from pipeline.safety_screen import SafetyScreenClassifier
from secondlook.safety_screen import load_screen


@pytest.fixture(scope="module")
def component() -> SafetyScreenClassifier:
    return SafetyScreenClassifier({}, load_screen())


def classified(text: str, *ranking: tuple[str, float]) -> Message:
    """A message as DIET and the FallbackClassifier left it."""
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={"text": text, "intent": intents[0], "intent_ranking": intents, "entities": []})


def run(component: SafetyScreenClassifier, message: Message) -> Message:
    return component.process([message])[0]


def test_a_present_emergency_wins_over_the_classifier(component):
    message = run(component, classified("my wife collapsed and isn't breathing", ("greet", 0.8), ("thank", 0.1)))
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert message.get("intent_ranking")[0]["name"] == "emergency"
    [kind] = message.get("entities")
    assert kind["entity"] == "emergency_kind" and kind["value"] == "medical_emergency"
    assert kind["rule"] and "breathing" not in kind["rule"]


def test_self_harm_is_its_own_kind(component):
    message = run(component, classified("i want to end my life tonight", ("feeling_anxious", 0.7)))
    assert message.get("entities")[0]["value"] == "self_harm"


def test_a_near_miss_overrules_a_confident_classifier(component):
    message = run(
        component,
        classified("is chest pain always something to do with the heart", ("emergency", 0.95), ("out_of_scope", 0.5)),
    )
    assert message.get("intent")["name"] == "out_of_scope"
    assert not message.get("entities")


def test_an_unsure_classifier_alarm_becomes_a_clarifying_question(component):
    message = run(component, classified("my boss is going to murder me", ("emergency", 0.6), ("greet", 0.1)))
    assert message.get("intent")["name"] == "nlu_fallback"
    assert [item["name"] for item in message.get("intent_ranking")] == ["nlu_fallback", "greet"]


def test_a_very_sure_classifier_still_raises_the_alarm_on_unknown_words(component):
    message = run(component, classified("please send help something is terribly wrong", ("emergency", 0.97)))
    assert message.get("intent")["name"] == "emergency"


def test_ordinary_messages_are_untouched(component):
    message = run(component, classified("how do i find a cardiologist", ("ask_find_specialist", 0.9)))
    assert message.get("intent") == {"name": "ask_find_specialist", "confidence": 0.9}
    assert message.get("entities") == []

"""The lexical intent classifier (pipeline/lexical_intents.py): a linear model over TF-IDF n-grams whose
probabilities are averaged with the ranking DIET left on the message."""

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from pipeline.lexical_intents import LexicalIntentClassifier

TRAINING = {
    "doctor_defensive": [
        "my doctor got defensive when i asked",
        "she was really defensive about it",
        "he got annoyed and defensive",
    ],
    "doctor_refuses": [
        "my doctor refused to refer me",
        "he won't give me a referral",
        "she said no to the referral",
    ],
    "next_step": ["what's next", "what should i do now", "what now"],
}


def context() -> ExecutionContext:
    return ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]


@pytest.fixture
def storage(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("lexical_intents")
    config = LexicalIntentClassifier.get_default_config()
    classifier = LexicalIntentClassifier.create(config, storage, resource, context())
    classifier.train(
        TrainingData([Message(data={"text": t, "intent": i}) for i, texts in TRAINING.items() for t in texts])
    )
    return storage, resource


def loaded(storage, **config) -> LexicalIntentClassifier:
    return LexicalIntentClassifier.load({**LexicalIntentClassifier.get_default_config(), **config}, *storage, context())


def diet_parse(text: str, ranking: dict[str, float]) -> Message:
    items = [{"name": name, "confidence": confidence} for name, confidence in ranking.items()]
    return Message(data={"text": text, "intent": items[0], "intent_ranking": items})


def ranking_of(message: Message) -> dict[str, float]:
    return {item["name"]: item["confidence"] for item in message.get("intent_ranking")}


def test_the_linear_model_overturns_an_unsure_diet_on_the_words_it_was_trained_with(storage):
    message = diet_parse("my doctor refused the referral", {"doctor_defensive": 0.55, "doctor_refuses": 0.45})
    loaded(storage).process([message])
    assert message.get("intent")["name"] == "doctor_refuses"
    assert message.get("intent") == message.get("intent_ranking")[0]


def test_the_ranking_is_the_weighted_average_of_both_models(storage):
    previous = {"doctor_defensive": 0.7, "doctor_refuses": 0.2, "next_step": 0.1}
    alone = diet_parse("she got defensive", dict.fromkeys(TRAINING, 0.0))
    loaded(storage, previous_weight=0.0).process([alone])  # the linear model's own probabilities
    linear = ranking_of(alone)
    assert sum(linear.values()) == pytest.approx(1.0)

    message = diet_parse("she got defensive", previous)
    loaded(storage, previous_weight=0.4).process([message])
    for name, confidence in ranking_of(message).items():
        assert confidence == pytest.approx(0.4 * previous[name] + 0.6 * linear[name])
    confidences = list(ranking_of(message).values())
    assert confidences == sorted(confidences, reverse=True)


def test_only_the_previous_ranking_counts_at_full_weight(storage):
    message = diet_parse("what now", {"doctor_defensive": 0.6, "next_step": 0.3, "doctor_refuses": 0.1})
    loaded(storage, previous_weight=1.0).process([message])
    assert message.get("intent") == {"name": "doctor_defensive", "confidence": pytest.approx(0.6)}


def test_the_ranking_is_cut_to_its_length(storage):
    message = diet_parse("what now", {"next_step": 0.9, "doctor_refuses": 0.1})
    loaded(storage, ranking_length=2).process([message])
    assert len(message.get("intent_ranking")) == 2


@pytest.mark.parametrize("text", ["", None])
def test_a_message_without_text_passes_unchanged(storage, text):
    message = Message(data={"text": text, "intent": {"name": "next_step", "confidence": 0.9}})
    loaded(storage).process([message])
    assert message.get("intent") == {"name": "next_step", "confidence": 0.9}


def test_a_model_without_the_component_s_file_keeps_diet_s_ranking(tmp_path):
    classifier = LexicalIntentClassifier.load({}, LocalModelStorage(tmp_path), Resource("never_trained"), context())
    message = diet_parse("what now", {"doctor_refuses": 0.8, "next_step": 0.2})
    classifier.process([message])
    assert ranking_of(message) == {"doctor_refuses": 0.8, "next_step": 0.2}

"""The semantic intent classifier (pipeline/semantic_intents.py): logistic regression over sentence
embeddings (the real offline encoder from build/minilm), averaged into the ranking already on the
message. It understands the same request in words it was never trained with, and it reads a long story
by its question."""

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from pipeline.semantic_intents import SemanticIntentClassifier, features
from pipeline.sentence_encoder import PIECE_VECTORS, pieces

TRAINING = {
    "doctor_refuses": [
        "my doctor refused to refer me",
        "he won't give me a referral",
        "she said no to a second opinion",
        "the specialist refused to send me to anyone else",
    ],
    "ask_records": [
        "how do i get my scans sent to the new doctor",
        "can i get a copy of my medical records",
        "how do i get my test results transferred",
        "will the hospital send my files over",
    ],
    "greet": ["hello", "hi there", "good morning", "hey"],
}


def context() -> ExecutionContext:
    return ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    storage, resource = LocalModelStorage(tmp_path_factory.mktemp("semantic")), Resource("semantic_intents")
    classifier = SemanticIntentClassifier.create(
        SemanticIntentClassifier.get_default_config(), storage, resource, context()
    )
    classifier.train(
        TrainingData([Message(data={"text": t, "intent": i}) for i, texts in TRAINING.items() for t in texts])
    )
    return storage, resource


def loaded(storage) -> SemanticIntentClassifier:
    return SemanticIntentClassifier.load(SemanticIntentClassifier.get_default_config(), *storage, context())


def parse(text: str, ranking: dict[str, float]) -> Message:
    items = [{"name": name, "confidence": confidence} for name, confidence in ranking.items()]
    return Message(data={"text": text, "intent": items[0], "intent_ranking": items})


def test_the_same_request_in_other_words_overturns_an_unsure_ranking(storage):
    message = parse(
        "the consultant told me I'd be wasting my time with another view",
        {"ask_records": 0.4, "doctor_refuses": 0.35, "greet": 0.25},
    )
    loaded(storage).process([message])
    assert message.get("intent")["name"] == "doctor_refuses"
    assert message.get("intent") == message.get("intent_ranking")[0]
    assert sum(item["confidence"] for item in message.get("intent_ranking")) == pytest.approx(1.0, abs=1e-3)


def test_a_long_story_is_read_by_its_question(storage):
    story = (
        "My GP has been lovely through all of this and I have no complaints about her. We have been going "
        "back and forth for months about my stomach. She says it is IBS and I just want to be sure. "
        "How do I get my scans and blood results sent to another doctor?"
    )
    message = parse(story, {"doctor_refuses": 0.5, "ask_records": 0.3, "greet": 0.2})
    loaded(storage).process([message])
    assert message.get("intent")["name"] == "ask_records"


def test_the_question_weighs_more_than_the_story_in_the_focus_vector():
    story = ["a b c", "one. two. three?"]
    split = [pieces(text) for text in story]
    vectors = [np.eye(384, dtype=np.float32)[: len(p)] for p in split]
    one, several = features(split, vectors)
    assert np.array_equal(one[:384], one[384:])  # a single sentence: the same vector twice
    focus = several[384:]
    assert focus[2] > 0 and focus[1] == focus[2] and focus[3] == pytest.approx(2 * focus[2])  # the question x2


def test_a_button_payload_and_an_untrained_model_leave_the_ranking_alone(storage, tmp_path):
    payload = parse("/ask_records", {"ask_records": 1.0})
    loaded(storage).process([payload])
    assert payload.get("intent_ranking") == [{"name": "ask_records", "confidence": 1.0}]
    untrained = SemanticIntentClassifier.load(
        SemanticIntentClassifier.get_default_config(), LocalModelStorage(tmp_path), Resource("none"), context()
    )
    message = parse("hello", {"doctor_refuses": 1.0})
    untrained.process([message])
    assert message.get("intent")["name"] == "doctor_refuses"


def test_the_message_is_encoded_once_for_every_component_that_reads_it(storage):
    message = parse("hi there", {"greet": 1.0})
    loaded(storage).process([message])
    text, vectors = message.get(PIECE_VECTORS)
    assert text == "hi there" and vectors.shape == (1, 384)
    assert PIECE_VECTORS not in message.as_dict(only_output_properties=True)  # never in the parse output

"""The novelty guard (pipeline/novelty_guard.py): an intent the message does not resemble becomes a
fallback; emergencies, small talk and out_of_scope are never touched; the index survives the model's
storage."""

import pickle

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from pipeline.novelty_guard import NoveltyGuard, NoveltyIndex

TRAINING = {
    "doubt_diagnosis": ["i don't think my diagnosis is right", "i doubt what my doctor told me"],
    "forget_me": ["delete everything you know about me", "erase my data"],
    "next_step": ["what's next", "what should i do now"],
    "emergency": ["i can't breathe"],
    "greet": ["hello"],
}


def train_guard(tmp_path, examples: dict[str, list[str]]):
    """A guard trained on `examples` (intent -> texts); returns what NoveltyGuard.load takes."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource("novelty_guard")
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    guard = NoveltyGuard.create(NoveltyGuard.get_default_config(), storage, resource, context)
    guard.train(TrainingData([Message(data={"text": t, "intent": i}) for i, texts in examples.items() for t in texts]))
    return storage, resource, context


@pytest.fixture
def trained(tmp_path):
    return train_guard(tmp_path, TRAINING)


def parsed(text: str, intent: str, confidence: float = 0.95) -> Message:
    ranking = [{"name": intent, "confidence": confidence}, {"name": "next_step", "confidence": 1 - confidence}]
    return Message(data={"text": text, "intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking})


def test_the_index_finds_a_training_example_and_not_unrelated_text():
    examples = [(text, intent) for intent, texts in TRAINING.items() for text in texts]
    index = NoveltyIndex.build([text for text, _ in examples], [intent for _, intent in examples])
    assert index.assess("i doubt what my doctor told me", "doubt_diagnosis")[0] == pytest.approx(1.0)
    assert index.assess("i doubt what my doctor said", "doubt_diagnosis")[0] > 0.6  # a near paraphrase
    assert index.assess("square root of 144", "doubt_diagnosis")[0] < 0.2
    assert index.assess("anything", "no_such_intent")[0] == 0.0


def test_a_loaded_guard_turns_an_unlike_message_into_a_fallback_and_keeps_the_guesses(trained):
    guard = NoveltyGuard.load(NoveltyGuard.get_default_config(), *trained)
    unlike = parsed("whats the square root of 144", "forget_me", 0.97)
    like = parsed("please erase my data", "forget_me", 0.97)
    guard.process([unlike, like])
    assert unlike.get("intent")["name"] == "nlu_fallback"
    assert [item["name"] for item in unlike.get("intent_ranking")] == ["nlu_fallback", "forget_me", "next_step"]
    assert like.get("intent") == {"name": "forget_me", "confidence": 0.97}


@pytest.mark.parametrize("intent", ["emergency", "greet", "out_of_scope", "nlu_fallback"])
def test_emergencies_small_talk_and_fallbacks_are_never_touched(trained, intent):
    guard = NoveltyGuard.load(NoveltyGuard.get_default_config(), *trained)
    message = parsed("zzz qqq completely unrelated words", intent)
    guard.process([message])
    assert message.get("intent")["name"] == intent


@pytest.mark.parametrize("text", ["", None])
def test_a_message_without_text_passes_unchanged(trained, text):
    guard = NoveltyGuard.load(NoveltyGuard.get_default_config(), *trained)
    message = Message(data={"text": text, "intent": {"name": "forget_me", "confidence": 0.9}})
    guard.process([message])
    assert message.get("intent")["name"] == "forget_me"


def test_a_model_without_the_index_loads_and_changes_nothing(tmp_path):
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    guard = NoveltyGuard.load({}, LocalModelStorage(tmp_path), Resource("never_trained"), context)
    message = parsed("square root of 144", "forget_me")
    guard.process([message])
    assert message.get("intent")["name"] == "forget_me"


EVERYDAY = {
    "out_of_scope": [
        "delete my instagram account",
        "how do i delete my facebook",
        "remove my twitter account",
        "delete the spotify app from my phone",
        "what's the weather tomorrow",
    ],
}


@pytest.fixture
def trained_with_everyday_text(tmp_path):
    return train_guard(tmp_path, {**TRAINING, "forget_me": [*TRAINING["forget_me"], "delete my account"], **EVERYDAY})


def stored_index(trained) -> NoveltyIndex:
    storage, resource, _ = trained
    with storage.read_from(resource) as directory:
        return pickle.loads((directory / "novelty_index.pkl").read_bytes())


def test_the_relevance_model_tells_the_assistant_s_requests_from_everyday_text(trained_with_everyday_text):
    index = stored_index(trained_with_everyday_text)
    assert index.assess("please erase my data", "forget_me")[1] > 0.5
    assert index.assess("delete my instagram", "forget_me")[1] < 0.5


def test_everyday_text_in_an_intent_s_words_becomes_a_fallback(trained_with_everyday_text):
    guard = NoveltyGuard.load(NoveltyGuard.get_default_config(), *trained_with_everyday_text)
    borrowed = parsed("delete my instagram", "forget_me", 0.97)
    own = parsed("please erase my data", "forget_me", 0.97)
    index = stored_index(trained_with_everyday_text)
    assert index.assess("delete my instagram", "forget_me")[0] >= 0.2  # resembles forget_me...
    guard.process([borrowed, own])
    assert borrowed.get("intent")["name"] == "nlu_fallback"  # ...but reads as everyday text
    assert own.get("intent")["name"] == "forget_me"


def test_without_everyday_examples_there_is_no_relevance_model():
    examples = [(text, intent) for intent, texts in TRAINING.items() for text in texts]
    index = NoveltyIndex.build([t for t, _ in examples], [i for _, i in examples], ignored=frozenset({"greet"}))
    assert index.relevance is None
    assert index.assess("anything", "forget_me")[1] is None


def test_a_long_story_around_a_known_question_is_not_new_ground():
    examples = [(text, intent) for intent, texts in TRAINING.items() for text in texts]
    index = NoveltyIndex.build([text for text, _ in examples], [intent for _, intent in examples])
    story = (
        "So last month I finally got the results back after weeks of waiting around. My husband drove me to "
        "the clinic and we sat in the car park for ages before going in. The consultant was kind enough but "
        "rushed. Honestly I doubt what my doctor told me."
    )
    # The question sentence is a training example: the story around it must not dilute it below the bar.
    by_sentence = index.assess(story, "doubt_diagnosis")[0]
    whole_only = index._similarity(index.vectorizer.transform([story]), "doubt_diagnosis")
    assert by_sentence > 0.9 and whole_only < by_sentence - 0.1  # the rest of the story dilutes it

"""What a request to practise asks for (pipeline/rehearsal_request.py), with the real offline encoder:
trained on start_rehearsal examples whose metadata names the scenario or the doctor, it reads the same
ask in other words, leaves a request that names neither alone (the choice is offered), never reads a
message of another intent or a button, and keeps what a button's payload already chose."""

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from pipeline.rehearsal_request import RehearsalRequestReader

SCENARIO, DOCTOR = "rehearsal_scenario", "rehearsal_temperament"
TRAINING = [
    ("can we practise asking about a second opinion", {SCENARIO: "ask_opinion"}),
    ("help me rehearse bringing up another opinion with my gp", {SCENARIO: "ask_opinion"}),
    ("i want to practise how to raise it with my oncologist", {SCENARIO: "ask_opinion"}),
    ("let me try asking whether i should get it double checked", {SCENARIO: "ask_opinion"}),
    ("can we practise asking for a referral", {SCENARIO: "referral"}),
    ("help me rehearse asking for my medical records", {SCENARIO: "referral"}),
    ("i want to practise getting my scans sent to another hospital", {SCENARIO: "referral"}),
    ("let me try asking who she would recommend", {SCENARIO: "referral"}),
    ("can we practise what to say if my doctor gets defensive", {SCENARIO: "defensive"}),
    ("help me rehearse answering him if he refuses", {SCENARIO: "defensive"}),
    ("i want to practise staying calm if she gets annoyed", {SCENARIO: "defensive"}),
    ("let me try answering a doctor who pushes back", {SCENARIO: "defensive"}),
    ("can you play a busy doctor so i can practise", {DOCTOR: "rushed"}),
    ("my gp is always in a rush, let's rehearse", {DOCTOR: "rushed"}),
    ("be a kind doctor and let me practise", {DOCTOR: "supportive"}),
    ("play a friendly doctor first", {DOCTOR: "supportive"}),
    ("let's practise", {}),
    ("can we rehearse the conversation", {}),
    ("i want to role play", {}),
    ("practice mode please", {}),
    ("let's do a dry run", {}),
    ("can you pretend to be my doctor", {}),
]


def context() -> ExecutionContext:
    return ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> RehearsalRequestReader:
    storage, resource = LocalModelStorage(tmp_path_factory.mktemp("request")), Resource("rehearsal_request")
    config = RehearsalRequestReader.get_default_config()
    examples = [
        Message(data={"text": text, "intent": "start_rehearsal", "metadata": {"example": asked}})
        for text, asked in TRAINING
    ]
    examples.append(Message(data={"text": "my doctor refused a referral", "intent": "doctor_refuses"}))
    RehearsalRequestReader.create(config, storage, resource, context()).train(TrainingData(examples))
    return RehearsalRequestReader.load(config, storage, resource, context())


def read(reader: RehearsalRequestReader, text: str, intent: str = "start_rehearsal", entities=None) -> dict:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []})
    reader.process([message])
    return {entity["entity"]: entity for entity in message.get("entities")}


@pytest.mark.parametrize(
    ("text", "scenario"),
    [
        ("I'd like to practise how I'd ask my cardiologist about another opinion", "ask_opinion"),
        ("could we rehearse me requesting copies of my biopsy results", "referral"),
        ("can I practise answering the surgeon if he refuses me", "defensive"),
    ],
)
def test_a_request_in_other_words_names_its_scenario(reader, text, scenario):
    found = read(reader, text)
    assert found[SCENARIO]["value"] == scenario
    assert found[SCENARIO]["extractor"] == "RehearsalRequestReader"


def test_the_doctor_asked_for_is_read_too(reader):
    assert read(reader, "can you be a doctor in a rush so I can practise")[DOCTOR]["value"] == "rushed"


def test_a_request_that_names_neither_gets_no_guess(reader):
    assert read(reader, "can we practise it together?") == {}


def test_other_intents_and_buttons_are_not_read(reader):
    assert read(reader, "my doctor refused to send my records", intent="doctor_refuses") == {}
    assert read(reader, '/start_rehearsal{"rehearsal_scenario": "referral"}') == {}


def test_a_choice_already_made_is_kept(reader):
    chosen = {"entity": SCENARIO, "value": "defensive", "extractor": "CRFEntityExtractor"}
    found = read(reader, "can we practise asking for a referral", entities=[chosen])
    assert found[SCENARIO] == chosen

"""The spaCy entities come from the pipeline's one parse, of the lower-cased text as SpacyNLP makes it
(pipeline/spacy_entities.py): the same entities, with the same values as written, that Rasa's own
extractor finds by parsing the message again, without that second parse."""

import pytest
import spacy
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from pipeline.spacy_entities import SpacyDocEntities
from secondlook.paths import PROJECT_ROOT

CONFIG = {"dimensions": ["DATE", "specialty", "condition"]}
TEXTS = [
    "I'm seeing a heart doctor next Tuesday about my atrial fibrillation",
    "My rheumatologist says it's lupus but I have my doubts. The appointment is on March 3rd.",
    "no dates or doctors in this one",
]


class NoSecondParse:
    """Stands in for the spaCy model: the component must not call it when the message has a parse."""

    def __call__(self, text: str):
        raise AssertionError(f"parsed again: {text!r}")


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(PROJECT_ROOT / "build" / "spacy" / "en_secondlook")


def found(entities: list[dict]) -> list[tuple]:
    return [(e["entity"], e["value"], e["start"], e["end"]) for e in entities]


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_entities_as_rasas_extractor_from_the_one_parse(nlp, text):
    ours = Message({TEXT: text, SPACY_DOCS[TEXT]: nlp(text.lower())})
    SpacyDocEntities(CONFIG).process([ours], SpacyModel(NoSecondParse(), "en_secondlook"))
    rasas = Message({TEXT: text})
    SpacyEntityExtractor(CONFIG).process([rasas], SpacyModel(nlp, "en_secondlook"))
    assert found(ours.get(ENTITIES)) == found(rasas.get(ENTITIES))


def test_dates_specialties_and_conditions_are_found(nlp):
    message = Message({TEXT: TEXTS[0], SPACY_DOCS[TEXT]: nlp(TEXTS[0].lower())})
    SpacyDocEntities(CONFIG).process([message], SpacyModel(NoSecondParse(), "en_secondlook"))
    kinds = {e["entity"]: e["value"] for e in message.get(ENTITIES)}
    assert kinds == {"specialty": "heart doctor", "DATE": "next Tuesday", "condition": "atrial fibrillation"}


def test_a_message_without_a_parse_is_parsed_here(nlp):
    message = Message({TEXT: TEXTS[1]})
    SpacyDocEntities(CONFIG).process([message], SpacyModel(nlp, "en_secondlook"))
    assert ("specialty", "rheumatologist") in {(e["entity"], e["value"]) for e in message.get(ENTITIES)}


def test_a_text_whose_length_changes_when_lower_cased_is_parsed_as_written(nlp):
    text = "I see a cardiologist in İzmir next Tuesday"  # "İ" lower-cases to two characters
    message = Message({TEXT: text, SPACY_DOCS[TEXT]: nlp(text.lower())})
    SpacyDocEntities(CONFIG).process([message], SpacyModel(nlp, "en_secondlook"))
    values = {(e["entity"], e["value"]) for e in message.get(ENTITIES)}
    assert ("specialty", "cardiologist") in values and ("DATE", "next Tuesday") in values

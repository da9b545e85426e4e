"""pipeline/entity_values.py: what the actions read is one canonical value per specialty, condition and
journey step, whatever words the user typed."""

import spacy
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from pipeline.entity_values import CanonicalEntityValues
from secondlook.paths import PROJECT_ROOT

component = CanonicalEntityValues()


def test_a_journey_step_role_becomes_the_value_and_the_typed_words_are_kept():
    typed = {"entity": "journey_step", "value": "raised it with my pcp", "role": "ask_doctor", "start": 5, "end": 26}
    message = Message({TEXT: "i've raised it with my pcp", ENTITIES: [typed]})
    (entity,) = component.process([message])[0].get(ENTITIES)
    assert entity["value"] == "ask_doctor" and entity["text"] == "raised it with my pcp"


def test_a_journey_step_without_a_role_is_left_alone():
    message = Message({TEXT: "done", ENTITIES: [{"entity": "journey_step", "value": "be_honest"}]})
    assert component.process([message])[0].get(ENTITIES) == [{"entity": "journey_step", "value": "be_honest"}]


def test_a_specialty_gets_the_ruler_pattern_id_as_its_value():
    nlp = spacy.load(PROJECT_ROOT / "build" / "spacy" / "en_secondlook")
    text = "I need another heart doctor"
    doc = nlp(text)
    start = text.index("heart doctor")
    typed = {"entity": "specialty", "value": "heart doctor", "start": start, "end": start + len("heart doctor")}
    other = {"entity": "DATE", "value": "today", "start": 0, "end": 1}
    message = Message({TEXT: text, ENTITIES: [typed, other], SPACY_DOCS[TEXT]: doc})
    specialty, date = component.process([message])[0].get(ENTITIES)
    assert specialty["value"] == "cardiology" and specialty["text"] == "heart doctor"
    assert date == {"entity": "DATE", "value": "today", "start": 0, "end": 1}


def test_what_the_doctor_is_called_names_the_specialty_too():
    """The ruler knows an entry by its name, its specialist and its synonyms, as the lookup tables do."""
    nlp = spacy.load(PROJECT_ROOT / "build" / "spacy" / "en_secondlook")
    doc = nlp("Should I see an orthopedic specialist outside my hospital?")
    assert [(ent.text, ent.label_, ent.ent_id_) for ent in doc.ents if ent.label_ == "specialty"] == [
        ("orthopedic specialist", "specialty", "orthopedics")
    ]

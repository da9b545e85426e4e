"""Canonical values for the entities the project's EntityRuler finds.

The spaCy entity extractor (pipeline/spacy_entities.py) reports what the user typed ("heart doctor");
the EntityRuler pattern that matched carries the canonical name as its id ("cardiology"), built from
content/entities/*.yml. This component, placed after the extractor, copies that id into the entity's
value and keeps the typed words in `text`, so actions and slots see one spelling per specialty or condition.

It does the same for the step a progress report names: CRFEntityExtractor finds the words ("asked my
gp") and predicts the step as the entity's role (a role generalises to wordings never seen in training,
which a value only does through exact synonyms); the role becomes the value the actions read.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

CANONICAL_ENTITIES = ("specialty", "condition")
ROLE_IS_VALUE = "journey_step"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class CanonicalEntityValues(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CanonicalEntityValues:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            canonical = {(e.start_char, e.end_char, e.label_): e.ent_id_ for e in doc.ents if e.ent_id_} if doc else {}
            for entity in message.get(ENTITIES, []):
                if entity.get("entity") == ROLE_IS_VALUE and entity.get("role"):
                    value = entity["role"]
                elif entity.get("entity") in CANONICAL_ENTITIES:
                    value = canonical.get((entity.get("start"), entity.get("end"), entity["entity"]))
                else:
                    continue
                if value:
                    entity["text"] = entity.get("value")
                    entity["value"] = value
        return messages

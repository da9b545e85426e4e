"""Canonical values for the entities the project's EntityRuler finds.

Rasa's SpacyEntityExtractor reports what the user typed ("heart doctor"); the EntityRuler pattern that
matched carries the canonical name as its id ("cardiology"), built from content/entities/*.yml. This
component, placed after the extractor, copies that id into the entity's value and keeps the typed
words in `text`, so actions and slots see one spelling per specialty or condition.
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
            if doc is None:
                continue
            canonical = {(ent.start_char, ent.end_char, ent.label_): ent.ent_id_ for ent in doc.ents if ent.ent_id_}
            for entity in message.get(ENTITIES, []):
                if entity.get("entity") not in CANONICAL_ENTITIES:
                    continue
                value = canonical.get((entity.get("start"), entity.get("end"), entity["entity"]))
                if value:
                    entity["text"] = entity.get("value")
                    entity["value"] = value
        return messages

"""Rasa's SpacyEntityExtractor, reading the entities of the spaCy parse the pipeline already made.

Rasa's extractor parses every message a second time, because the pipeline's parse (SpacyNLP) is of the
lower-cased text, "which is bad for NER". Under load that second parse was 3 % of the Rasa server's
samples, as much as the first (docs/deploy.md). Measured on 1,649 held-out, people's-words and training
messages, spaCy finds the same `DATE`, `specialty` and `condition` entities in the lower-cased text for
all but two ("Christmas" lost, "the day" gained); the EntityRuler's patterns match lower-cased words
anyway. Parsing the text as written instead (`case_sensitive: true`) changed DIET's features and cost
four messages of the studied people's-words set, so the one lower-cased parse serves, and each entity's
value is cut from the message as written ("next Tuesday", not "next tuesday").
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP")
class SpacyDocEntities(SpacyEntityExtractor):
    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            doc = message.get(SPACY_DOCS[TEXT])
            # Lower-casing changed the length (a few non-ASCII letters do): offsets would not match, so
            # parse the text as written, as Rasa's extractor does.
            if doc is None or len(doc.text) != len(text):
                doc = model.model(text)
            found = self.add_extractor_name(self._as_written(self._extract_entities(doc), text))
            wanted = self.filter_irrelevant_entities(found, self._config["dimensions"])
            message.set(ENTITIES, message.get(ENTITIES, []) + wanted, add_to_output=True)
        return messages

    @staticmethod
    def _as_written(entities: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
        return [{**entity, "value": text[entity["start"] : entity["end"]]} for entity in entities]

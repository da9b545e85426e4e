"""The safety screen as the last step of the NLU pipeline: when its deterministic patterns recognise an
emergency or self-harm happening now, the message becomes `emergency` whatever the classifier said, so
an ML miss can never suppress the emergency reply. The `emergency_kind` entity says which kind."""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.safety_screen import Risk, SafetyScreen, load_screen

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "emergency"
KIND_ENTITY = "emergency_kind"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyScreenClassifier(GraphComponent):
    def __init__(self, screen: SafetyScreen) -> None:
        self._screen = screen

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyScreenClassifier:
        return cls(load_screen())

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._screen_message(message)
        return messages

    def _screen_message(self, message: Message) -> None:
        doc = message.get(SPACY_DOCS[TEXT])
        text = message.get(TEXT) or ""
        screening = self._screen.screen_doc(doc) if doc is not None else self._screen.screen(text)
        if screening.risk is Risk.NONE:
            return
        logger.info("safety screen: %s (rule %s)", screening.risk.value, screening.rule)
        verdict = {"name": EMERGENCY_INTENT, "confidence": 1.0}
        ranking = [item for item in message.get(INTENT_RANKING_KEY) or [] if item.get("name") != EMERGENCY_INTENT]
        message.set(INTENT, verdict, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [verdict, *ranking], add_to_output=True)
        entities = [entity for entity in message.get(ENTITIES) or [] if entity.get("entity") != KIND_ENTITY]
        entities.append(
            {
                "entity": KIND_ENTITY,
                "value": screening.risk.value,
                "start": 0,
                "end": len(text),
                "extractor": type(self).__name__,
                "rule": screening.rule,  # the pattern id, for the review log; never the text
            }
        )
        message.set(ENTITIES, entities, add_to_output=True)

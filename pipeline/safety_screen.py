"""The safety screen as the last step of the NLU pipeline.

- When its deterministic patterns recognise an emergency or self-harm happening now, the message
  becomes `emergency` whatever the classifier said, so an ML miss can never suppress the emergency
  reply. The `emergency_kind` entity says which kind.
- The classifier's `emergency` intent stays as a second net for phrasings the patterns do not know,
  but only when it is very sure and the screen did not recognise the message as a near miss (a past,
  hypothetical or figurative mention): false alarms teach people to ignore the alarm.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from secondlook.safety_screen import Risk, SafetyScreen, Screening, load_screen

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "emergency"
KIND_ENTITY = "emergency_kind"
# Set on a message (never in the parse output) when a rule matched but the screen judged it not an
# emergency now (negated, past, figurative...): the semantic crisis screen behind it then asks for more.
SET_ASIDE = "safety_screen_set_aside"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyScreenClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # The classifier alone may raise the alarm only above this confidence.
            "classifier_net_threshold": 0.9,
            # When the classifier's emergency is overruled, its next guess must reach this, else fallback.
            "fallback_threshold": 0.45,
        }

    def __init__(self, config: dict[str, Any], screen: SafetyScreen) -> None:
        self._config = {**self.get_default_config(), **config}
        self._screen = screen

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyScreenClassifier:
        return cls(config, load_screen())

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            screening = (
                self._screen.screen_doc(doc) if doc is not None else self._screen.screen(message.get(TEXT) or "")
            )
            if screening.set_aside:
                message.set(SET_ASIDE, screening.set_aside)
            if screening.risk is not Risk.NONE:
                self._raise_alarm(message, screening)
            elif self._classifier_alarm_overruled(message, screening):
                self._use_next_guess(message)
        return messages

    def _raise_alarm(self, message: Message, screening: Screening) -> None:
        logger.info("safety screen: %s (rule %s)", screening.risk.value, screening.rule)
        raise_emergency(message, screening.risk.value, type(self).__name__, screening.rule)

    def _classifier_alarm_overruled(self, message: Message, screening: Screening) -> bool:
        """Whether the classifier says emergency but the screen knows better (or the classifier is unsure)."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        emergency_confidence = next(
            (item.get("confidence", 0.0) for item in ranking if item.get("name") == EMERGENCY_INTENT), 0.0
        )
        if (message.get(INTENT) or {}).get("name") != EMERGENCY_INTENT:
            return False
        if screening.set_aside:
            logger.info("safety screen: classifier alarm overruled (near miss of rule %s)", screening.set_aside)
            return True
        return emergency_confidence < self._config["classifier_net_threshold"]

    def _use_next_guess(self, message: Message) -> None:
        ranking = [
            item
            for item in message.get(INTENT_RANKING_KEY) or []
            if item.get("name") not in (EMERGENCY_INTENT, DEFAULT_NLU_FALLBACK_INTENT_NAME)
        ]
        best = ranking[0] if ranking else None
        if best is None or best.get("confidence", 0.0) < self._config["fallback_threshold"]:
            best = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": self._config["fallback_threshold"]}
            ranking = [best, *ranking]
        message.set(INTENT, best, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


def raise_emergency(message: Message, kind: str, extractor: str, rule: str | None) -> None:
    """Make the message an `emergency` with one `emergency_kind` entity: what both screens do when they
    fire. `rule` names the pattern or category for the review log, never the text."""
    verdict = {"name": EMERGENCY_INTENT, "confidence": 1.0}
    ranking = [item for item in message.get(INTENT_RANKING_KEY) or [] if item.get("name") != EMERGENCY_INTENT]
    message.set(INTENT, verdict, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [verdict, *ranking], add_to_output=True)
    entities = [entity for entity in message.get(ENTITIES) or [] if entity.get("entity") != KIND_ENTITY]
    entities.append(
        {
            "entity": KIND_ENTITY,
            "value": kind,
            "start": 0,
            "end": len(message.get(TEXT) or ""),
            "extractor": extractor,
            "rule": rule,
        }
    )
    message.set(ENTITIES, entities, add_to_output=True)

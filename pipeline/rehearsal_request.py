"""What a request to practise asks for: the scenario and the kind of doctor, from the request's words.

"I'd like to practise how I'd ask my cardiologist" names the scenario (asking about a second opinion);
"my GP is always in a rush" names the doctor. The role-play starts at once when the request says what
(actions/rehearsal_actions.py), and offers the choice when it does not.

Why a classifier over sentence embeddings and not entities: the words that name a scenario ("referral",
"defensive", "says no") are everywhere in the journey's own examples, where they are not a request to
practise; a CRF over words saw them both ways and tagged one request in five. Here the question is asked
only of a message already read as `start_rehearsal`, over the whole message and its sentences (the
vectors the semantic intent classifier computed for it: no extra encoder pass), by two logistic
regressions trained on the start_rehearsal examples: those whose example metadata names a scenario or
a doctor (data/nlu/rehearsal_requests.yml), and the rest as requests that name neither. A guess below
`min_confidence` is not made: the choice is offered instead, which is never wrong.

The result is an entity, `rehearsal_scenario` / `rehearsal_temperament`, as a button's payload gives it,
with this component as its extractor (so the action can tell words from a button).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from pipeline import sentence_encoder
from pipeline.semantic_intents import encode_messages, features
from pipeline.sentence_encoder import pieces
from pipeline.trained import restore_artefact, source_fingerprint, store_artefact

logger = logging.getLogger(__name__)

MODEL_FILE = "rehearsal_request.pkl"
REQUEST_INTENT = "start_rehearsal"
ASKED_FOR = ("rehearsal_scenario", "rehearsal_temperament")  # entity names, also the example metadata keys
NOT_SAID = "none"


def labelled_requests(training_data: TrainingData) -> tuple[list[str], dict[str, list[str]]]:
    """The start_rehearsal examples, and for each entity what the example asks for (NOT_SAID if nothing)."""
    texts: list[str] = []
    labels: dict[str, list[str]] = {name: [] for name in ASKED_FOR}
    for message in training_data.intent_examples:
        if message.get(INTENT) != REQUEST_INTENT or not message.get(TEXT):
            continue
        asked = (message.get(METADATA) or {}).get(METADATA_EXAMPLE) or {}
        texts.append(message.get(TEXT))
        for name in ASKED_FOR:
            labels[name].append(str(asked.get(name) or NOT_SAID))
    return texts, labels


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class RehearsalRequestReader(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 10.0, "min_confidence": 0.5}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str:
        code = source_fingerprint(sys.modules[__name__], sentence_encoder)
        return f"{code}-{sentence_encoder.encoder_fingerprint()}"

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        models: dict[str, LogisticRegression] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._models = models or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RehearsalRequestReader:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts, labels = labelled_requests(training_data)
        learnable = {name: values for name, values in labels.items() if len(set(values)) >= 2}
        if not learnable:
            logger.warning("RehearsalRequestReader: no request names a scenario or a doctor; the component is off")
            return self._resource
        rows = encode_messages(texts, sentence_encoder.load_encoder().encode)
        self._models = {
            name: LogisticRegression(C=self._config["C"], max_iter=5000, class_weight="balanced").fit(rows, values)
            for name, values in learnable.items()
        }
        store_artefact(self._model_storage, self._resource, MODEL_FILE, self._models)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RehearsalRequestReader:
        missing = "RehearsalRequestReader: no trained model; a request to practise offers the choice"
        models = restore_artefact(model_storage, resource, MODEL_FILE, missing)
        return cls(config, model_storage, resource, models)

    def asked_for(self, message: Message, text: str) -> dict[str, tuple[str, float]]:
        """For each entity this request names confidently enough: the value and its probability."""
        row = features([pieces(text)], [sentence_encoder.piece_vectors(message, text)])
        found = {}
        for name, model in self._models.items():
            probabilities = model.predict_proba(row)[0]
            best = int(np.argmax(probabilities))
            value, confidence = str(model.classes_[best]), float(probabilities[best])
            if value != NOT_SAID and confidence >= self._config["min_confidence"]:
                found[name] = (value, confidence)
        return found

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = (message.get(TEXT) or "").strip()
            # A button's payload carries its choice already; only a request in words is read.
            if not self._models or not text or text.startswith("/"):
                continue
            if (message.get(INTENT) or {}).get("name") != REQUEST_INTENT:
                continue
            entities = message.get(ENTITIES) or []
            present = {entity.get("entity") for entity in entities}
            for name, (value, confidence) in self.asked_for(message, text).items():
                if name in present:
                    continue
                entities.append(
                    {
                        "entity": name,
                        "value": value,
                        "start": 0,
                        "end": len(text),
                        "confidence": round(confidence, 3),
                        "extractor": type(self).__name__,
                    }
                )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

"""A third opinion on the intent, from meaning rather than words: logistic regression over sentence
embeddings (the offline MiniLM of pipeline/sentence_encoder.py), averaged into the ranking.

DIET and the lexical model learn the team's words. Patients say the same things in other words, and
at length: what happened, how they feel, then (maybe) the question. Both failures end in the clarifying
menu. A sentence encoder trained on a billion sentence pairs knows that "the consultant told me I'd be
wasting my time with another view" is close to "my doctor refused to refer me" without sharing a word.

How a message is read
- Whole, and sentence by sentence (the same pieces the crisis screen reads; the vectors are computed
  once per message and shared). The encoder reads at most 128 tokens, so the whole-message vector of a
  long story loses its end, where the question usually is.
- The features are the whole-message vector next to a *focus* vector: the mean of the sentence
  vectors, with a question counted twice and the last sentence one and a half times (the question, or
  the last thing that happened, usually carries a patient's message). A one-sentence message has the
  same vector twice. Training examples are read the same way, so the model learns on what it sees.
- Its probabilities are averaged with the ranking already on the message (DIET's and the lexical
  model's average), which keeps `previous_weight` of it; FallbackClassifier and the novelty guard then
  judge the new ranking.
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
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from pipeline import sentence_encoder
from pipeline.sentence_encoder import pieces
from pipeline.trained import blend_ranking, intent_examples, restore_artefact, source_fingerprint, store_artefact

logger = logging.getLogger(__name__)

MODEL_FILE = "semantic_intents.pkl"
QUESTION_WEIGHT = 2.0
LAST_SENTENCE_WEIGHT = 1.5


def features(texts_pieces: list[list[str]], vectors: list[np.ndarray]) -> np.ndarray:
    """One row per message: its whole-message vector next to its focus vector (see the module's doc)."""
    rows = []
    for message_pieces, message_vectors in zip(texts_pieces, vectors, strict=True):
        whole = message_vectors[0]
        if len(message_pieces) == 1:
            rows.append(np.concatenate([whole, whole]))
            continue
        sentences, sentence_vectors = message_pieces[1:], message_vectors[1:]
        weights = np.ones(len(sentences))
        weights[-1] = LAST_SENTENCE_WEIGHT
        weights[[i for i, sentence in enumerate(sentences) if sentence.rstrip().endswith("?")]] = QUESTION_WEIGHT
        focus = (weights[:, None] * sentence_vectors).sum(axis=0)
        focus /= max(float(np.linalg.norm(focus)), 1e-9)
        rows.append(np.concatenate([whole, focus]))
    return np.vstack(rows).astype(np.float32)


def encode_messages(texts: list[str], encode: Any) -> np.ndarray:
    """features() of many texts, their pieces encoded in one batch (training)."""
    split = [pieces(text) for text in texts]
    flat = encode([piece for message_pieces in split for piece in message_pieces])
    vectors, start = [], 0
    for message_pieces in split:
        vectors.append(flat[start : start + len(message_pieces)])
        start += len(message_pieces)
    return features(split, vectors)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SemanticIntentClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Weight of the ranking already on the message; this model's probabilities get the rest.
            "previous_weight": 0.5,
            "C": 10.0,
            "ranking_length": 10,
        }

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str:
        code = source_fingerprint(sys.modules[__name__], sentence_encoder)
        return f"{code}-{sentence_encoder.encoder_fingerprint()}"

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: LogisticRegression | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SemanticIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts, intents = intent_examples(training_data)
        if len(set(intents)) < 2:
            logger.warning("SemanticIntentClassifier: fewer than two intents to learn; the component is off")
            return self._resource
        encoder = sentence_encoder.load_encoder()
        self._model = LogisticRegression(C=self._config["C"], max_iter=5000)
        self._model.fit(encode_messages(texts, encoder.encode), intents)
        store_artefact(self._model_storage, self._resource, MODEL_FILE, self._model)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SemanticIntentClassifier:
        missing = "SemanticIntentClassifier: no trained model; the ranking stands without it"
        model = restore_artefact(model_storage, resource, MODEL_FILE, missing)
        if model is not None:
            sentence_encoder.load_encoder()  # load and trace now, not on the first message
        return cls(config, model_storage, resource, model)

    def probabilities(self, message: Message, text: str) -> dict[str, float]:
        vectors = sentence_encoder.piece_vectors(message, text)
        row = features([pieces(text)], [vectors])
        return dict(zip(self._model.classes_, self._model.predict_proba(row)[0], strict=True))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = (message.get(TEXT) or "").strip()
            # A button's payload ("/affirm") names its intent: nothing to understand.
            if self._model is None or not text or text.startswith("/"):
                continue
            blend_ranking(
                message,
                self.probabilities(message, text),
                self._config["previous_weight"],
                self._config["ranking_length"],
            )
        return messages

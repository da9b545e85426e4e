"""What the project's trained NLU components (the lexical intent classifier, the novelty guard) share:
their training examples, their one stored artefact, and a fingerprint of their code.

Rasa reuses a trained component from its cache when the component's class name, configuration and
inputs are unchanged; a change to our own training code would otherwise be served from the cache.
`fingerprint_addon` adds the hash of the source files the training depends on.
"""

import hashlib
import logging
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


def source_fingerprint(*modules: ModuleType) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def intent_examples(training_data: TrainingData) -> tuple[list[str], list[str]]:
    """The texts of the intent examples that have one, and their intents."""
    examples = [(m.get(TEXT), m.get(INTENT)) for m in training_data.intent_examples if m.get(TEXT)]
    return [text for text, _ in examples], [intent for _, intent in examples]


def store_artefact(model_storage: ModelStorage, resource: Resource, filename: str, artefact: Any) -> None:
    with model_storage.write_to(resource) as directory:
        (directory / filename).write_bytes(pickle.dumps(artefact))


def restore_artefact(model_storage: ModelStorage, resource: Resource, filename: str, missing: str) -> Any | None:
    """The artefact store_artefact() wrote, or None (logging `missing`) when the model has none."""
    try:
        with model_storage.read_from(resource) as directory:
            # The model's own file, written by store_artefact(): not data from outside.
            return pickle.loads((directory / filename).read_bytes())  # noqa: S301
    except (ValueError, FileNotFoundError):
        logger.warning(missing)
        return None


def blend_ranking(message: Message, other: dict[str, float], previous_weight: float, length: int) -> None:
    """Average the intent ranking already on the message (keeping `previous_weight` of it) with another
    model's probabilities, and set the result as the message's intent and ranking."""
    previous = {item["name"]: item["confidence"] for item in message.get(INTENT_RANKING_KEY) or []}
    names = set(previous) | set(other)
    averaged = {
        name: float(previous_weight * previous.get(name, 0.0) + (1 - previous_weight) * other.get(name, 0.0))
        for name in names
    }
    # Ties broken by name: the order of a set of strings changes with the hash seed.
    ordered = sorted(averaged.items(), key=lambda item: (-item[1], item[0]))[:length]
    ranking = [{"name": name, "confidence": confidence} for name, confidence in ordered]
    message.set(INTENT, ranking[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

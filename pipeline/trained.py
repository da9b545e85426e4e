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
from rasa.shared.nlu.constants import INTENT, TEXT
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

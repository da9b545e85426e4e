"""Retrain a component when its code changes, not only its configuration or data.

Rasa reuses a trained component from its cache when the component's class name, configuration and
inputs are unchanged; a change to our own training code would otherwise be served from the cache.
`fingerprint_addon` adds the hash of the source files the training depends on.
"""

import hashlib
from pathlib import Path
from types import ModuleType


def source_fingerprint(*modules: ModuleType) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]

"""The one reader of content/: every YAML file there (what the assistant says, the locales, the patterns
its rules use) is parsed once per process and shared. Callers must not change what they get."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from secondlook.paths import CONTENT_DIR


@cache
def load_yaml(path: Path) -> Any:
    """A YAML file, parsed on first use."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def content(name: str) -> Any:
    """content/<name>, e.g. "journey.yml" or "entities/specialties.yml"."""
    return load_yaml(CONTENT_DIR / name)

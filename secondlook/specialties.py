"""The specialties of content/entities/specialties.yml (the EntityRuler's list too), read once for the
actions: each entry has a `name`, its `synonyms` and the `specialist` a person would look for."""

from functools import cache

import yaml

from secondlook.paths import CONTENT_DIR

SPECIALTIES_FILE = CONTENT_DIR / "entities" / "specialties.yml"


@cache
def specialty_entries() -> tuple[dict, ...]:
    return tuple(yaml.safe_load(SPECIALTIES_FILE.read_text(encoding="utf-8"))["specialties"])

"""The specialties of content/entities/specialties.yml (the EntityRuler's list too), read once for the
actions: each entry has a `name`, its `synonyms` and the `specialist` a person would look for."""

from functools import cache

from secondlook.content import content


@cache
def specialty_entries() -> tuple[dict, ...]:
    return tuple(content("entities/specialties.yml")["specialties"])

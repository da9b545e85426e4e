"""The concepts and who-does-what patterns of the line analysis, as data in content/rehearsal_patterns.yml
(word lists, spaCy token patterns, dependency patterns), loaded and compiled into matchers once."""

from dataclasses import dataclass
from functools import cache
from typing import Any

from spacy.matcher import DependencyMatcher, Matcher

from secondlook.content import content
from secondlook.rehearsal.parsing import load_nlp

PATTERNS_FILE = "rehearsal_patterns.yml"


def _expand(value: Any, lexicons: dict[str, list[str]]) -> Any:
    """A pattern with every list item "$name" replaced by the words of lexicons.name."""
    if isinstance(value, dict):
        return {key: _expand(item, lexicons) for key, item in value.items()}
    if isinstance(value, list):
        expanded: list = []
        for item in value:
            if isinstance(item, str) and item.startswith("$"):
                expanded.extend(lexicons[item[1:]])
            else:
                expanded.append(_expand(item, lexicons))
        return expanded
    return value


def _lexicon(name: str) -> list[str]:
    return list(content(PATTERNS_FILE)["lexicons"][name])


def token_patterns() -> dict[str, list[list[dict]]]:
    """Token-sequence patterns for concepts, by label."""
    data = content(PATTERNS_FILE)
    return _expand(data["token_patterns"], data["lexicons"])


def dependency_patterns() -> dict[str, list[list[dict]]]:
    """Who-does-what patterns over the parse. The first token of each match is the clause's verb."""
    data = content(PATTERNS_FILE)
    return _expand(data["dependency_patterns"], data["lexicons"])


# The word lists the rules in assessment.py read directly (analysis only: never shown to the user).
FIRST_PERSON = set(_lexicon("first_person"))
YOU = _lexicon("you")
SOMEONE = _lexicon("someone")
STRONG_EVAL = _lexicon("strong_eval")
WEAK_EVAL = _lexicon("weak_eval")
PERSON_NOUNS = _lexicon("person_nouns")
RECORD_NOUNS = _lexicon("record_nouns")
CERTAINTY = _lexicon("certainty")
DOUBT_WORDS = _lexicon("doubt_words")
EMOTION = _lexicon("emotion")
SERIOUS_ADJ = _lexicon("serious_adj")
SERIOUS_NOUNS = _lexicon("serious_nouns")
FAMILY = _lexicon("family")
FRAME_VERBS = _lexicon("frame_verbs")
SEEK_VERBS = _lexicon("seek_verbs")
TENTATIVE = _lexicon("tentative")
WH_WORDS = set(_lexicon("wh_words"))
AUX_LEMMAS = set(_lexicon("aux_lemmas"))
HEDGE_MODALS = set(_lexicon("hedge_modals"))
WISH_LEMMAS = set(_lexicon("wish_lemmas"))
LEAD_INS = set(_lexicon("lead_ins"))


@dataclass(frozen=True)
class Patterns:
    tokens: Matcher
    deps: DependencyMatcher


@cache
def compiled() -> Patterns:
    vocab = load_nlp().vocab
    tokens = Matcher(vocab)
    for label, patterns in token_patterns().items():
        tokens.add(label, patterns)
    deps = DependencyMatcher(vocab)
    for label, patterns in dependency_patterns().items():
        deps.add(label, patterns)
    return Patterns(tokens, deps)

"""Reading a line with spaCy: the project's pipeline (parser included) and the normalisation of chat
text that the parser and the patterns depend on."""

import re
from functools import cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from secondlook.paths import PROJECT_ROOT

PIPELINE_PATH = PROJECT_ROOT / "build" / "spacy" / "en_secondlook"
# Longer input is cut: a rehearsal line is a sentence or two, and parsing cost grows with length.
MAX_CHARS = 1000


@cache
def load_nlp() -> Language:
    """The project's spaCy pipeline with the parser (line analysis needs sentence structure)."""
    return spacy.load(PIPELINE_PATH)


# Components line analysis does not need; skipping them keeps assess_line fast without changing the
# shared, cached pipeline that other code may use with entities.
_SKIPPED_COMPONENTS = {"ner", "entity_ruler"}


def parse(text: str) -> Doc:
    nlp = load_nlp()
    doc = nlp.make_doc(text)
    for name, component in nlp.pipeline:
        if name not in _SKIPPED_COMPONENTS:
            doc = component(doc)
    return doc


# --------------------------------------------------------------------------------------------------
# Normalisation: chat text is lower case, unpunctuated and misspelt; fix the few forms the parser
# and the patterns depend on.

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]+")
_TYPOS = {
    "opinon": "opinion",
    "oppinion": "opinion",
    "opnion": "opinion",
    "opinoin": "opinion",
    "secnd": "second",
    "seccond": "second",
    "2nd": "second",
    "referal": "referral",
    "refferal": "referral",
    "referall": "referral",
    "reffer": "refer",
    "recomend": "recommend",
    "reccomend": "recommend",
    "reccommend": "recommend",
    "recommand": "recommend",
    "specalist": "specialist",
    "specilist": "specialist",
    "docter": "doctor",
    "doc": "doctor",
    "becuase": "because",
    "becasue": "because",
    "cuz": "because",
    "coz": "because",
    "bc": "because",
    "u": "you",
    "ur": "your",
    "r": "are",
    "i": "I",
    "im": "I'm",
    "ive": "I've",
    "dont": "don't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "cant": "can't",
    "wont": "won't",
    "isnt": "isn't",
    "wouldnt": "wouldn't",
    "couldnt": "couldn't",
    "havent": "haven't",
    "youre": "you're",
    "thats": "that's",
    "whats": "what's",
    "pls": "please",
    "plz": "please",
    "wanna": "want to",
    "gonna": "going to",
}
_WORD = re.compile(r"[A-Za-z0-9']+")


def normalise(text: str) -> str:
    """Printable, length-capped text with common chat spellings fixed and a capital first letter."""
    text = _CONTROL.sub(" ", str(text)).replace("’", "'")
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS]
        text = cut[: cut.rfind(" ")] if " " in cut else cut
    text = _WORD.sub(lambda m: _TYPOS.get(m.group(0).lower(), m.group(0)), text)
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]

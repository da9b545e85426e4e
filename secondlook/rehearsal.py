"""Rehearsal engine: the user practises talking to their doctor about a second opinion.

The bot plays the doctor (supportive, rushed or defensive) in one of three scenarios, reads each
line the user would say, tags it with the fixed assessment vocabulary (contract section 6), moves the
doctor's tension up or down, answers in character and adds one or two sentences of coaching grounded
in the journey's advice (content/journey.yml).

Everything the bot can say is reviewed text in content/rehearsal.yml; this module only chooses among
those texts and never generates sentences. It has no Rasa imports so it can be tested on its own; the
state is a small dataclass that round-trips through plain JSON because it lives in a Rasa slot.

Line analysis runs spaCy's full pipeline, dependency parser included: token `Matcher` patterns find
concepts (a second opinion, a reason, a hedge, a record), `DependencyMatcher` patterns find who does
what to whom ("you missed it" vs "I'm going to see someone else"), and a small amount of Python reads
the parse for negation scope ("I'm not saying you're wrong" is not an accusation), questions and
clause subjects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.language import Language
from spacy.matcher import DependencyMatcher, Matcher
from spacy.tokens import Doc, Span, Token

from secondlook.paths import CONTENT_DIR, PROJECT_ROOT

SCENARIOS = ("ask_opinion", "referral", "defensive")
TEMPERAMENTS = ("supportive", "rushed", "defensive")
TAGS = ("asks_opinion", "announces", "honest_reason", "requests_referral", "asks_why", "accusatory")
MAX_TURNS = 4

PIPELINE_PATH = PROJECT_ROOT / "build" / "spacy" / "en_secondlook"
CONTENT_PATH = CONTENT_DIR / "rehearsal.yml"

# Longer input is cut: a rehearsal line is a sentence or two, and parsing cost grows with length.
MAX_CHARS = 1000
MAX_TENSION = 3
START_TENSION = {"supportive": 0, "rushed": 1, "defensive": 2}
# At or below this tension the doctor goes along with a good request; above it they push back.
CALM = 1
# Which doctor replies count as "the scenario's goal was reached" (the rehearsal can end there).
GOALS = {
    "ask_opinion": {"opinion_yes", "referral_yes", "why_open"},
    "referral": {"referral_yes"},
    "defensive": {"why_open", "opinion_yes", "referral_yes"},
}
# The tags each scenario is really practising, most important first (coaching and summary use them).
KEY_TAGS = {
    "ask_opinion": ("asks_opinion", "honest_reason"),
    "referral": ("requests_referral", "honest_reason"),
    "defensive": ("asks_why", "honest_reason"),
}
GOOD_TAGS = ("asks_opinion", "honest_reason", "requests_referral", "asks_why")
SITUATIONS = (
    "accused",
    "announced",
    "opinion_yes",
    "opinion_no",
    "referral_yes",
    "referral_no",
    "why_open",
    "why_guarded",
    "reason_heard",
    "unclear",
)


# --------------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class LineAssessment:
    tags: tuple[str, ...]
    is_question: bool
    hedged: bool
    first_person_reason: bool


@dataclass
class RehearsalState:
    scenario: str
    temperament: str
    tension: int = 0
    turns: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "temperament": self.temperament,
            "tension": self.tension,
            "turns": [list(tags) for tags in self.turns],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> RehearsalState | None:
        """The state stored in a slot, or None when it is missing or not a state we wrote."""
        if not isinstance(data, dict):
            return None
        scenario, temperament = data.get("scenario"), data.get("temperament")
        tension, turns = data.get("tension", 0), data.get("turns", [])
        if scenario not in SCENARIOS or temperament not in TEMPERAMENTS:
            return None
        # bool is an int subclass; a stored True is not a tension.
        if not isinstance(tension, int) or isinstance(tension, bool) or not isinstance(turns, list):
            return None
        if not all(isinstance(tags, list) and all(tag in TAGS for tag in tags) for tags in turns):
            return None
        return cls(scenario, temperament, _clamp(tension), [list(tags) for tags in turns])


@dataclass(frozen=True)
class TurnResult:
    doctor_reply: str
    coaching: str
    state: RehearsalState
    finished: bool


# --------------------------------------------------------------------------------------------------
# spaCy pipeline


@cache
def load_nlp() -> Language:
    """The project's spaCy pipeline with the parser (line analysis needs sentence structure)."""
    return spacy.load(PIPELINE_PATH)


# Components line analysis does not need; skipping them keeps assess_line fast without changing the
# shared, cached pipeline that other code may use with entities.
_SKIPPED_COMPONENTS = {"ner", "entity_ruler"}


def _parse(text: str) -> Doc:
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


def _normalise(text: str) -> str:
    """Printable, length-capped text with common chat spellings fixed and a capital first letter."""
    text = _CONTROL.sub(" ", str(text)).replace("’", "'")
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS]
        text = cut[: cut.rfind(" ")] if " " in cut else cut
    text = _WORD.sub(lambda m: _TYPOS.get(m.group(0).lower(), m.group(0)), text)
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------------
# Lexicons (analysis only: none of these words is ever shown to the user)

FIRST_PERSON = {"i", "me", "my", "myself", "mine", "we", "us", "our"}
YOU = ["you", "your", "yourself"]
SO_MODIFIERS = "second another other outside independent fresh extra different new separate further".split()
SO_HEADS = (
    "opinion look view perspective doctor physician specialist expert consultant surgeon hospital clinic"
    " practice team centre center gp eye pair set assessment review"
).split()
SOMEONE = ["someone", "somebody", "anyone", "anybody"]
# Words that ask for the doctor's judgement. The "strong" ones still count when the same sentence
# also asks for a referral or asks why ("would it make sense to get a referral?").
STRONG_EVAL = (
    "sense worth worthwhile idea helpful useful sensible reasonable wise advisable ok okay alright"
    " appropriate support benefit value help"
).split()
WEAK_EVAL = "mind think feel thought view opinion recommend suggest advise add matter fine harm hurt should".split()
REACTION = (
    "concern worry hesitation hesitant objection problem issue reservation reluctance reluctant bother"
    " uncomfortable uneasy upset against oppose opposed resistant object annoy"
).split()
PERSON_NOUNS = (
    "someone somebody anyone anybody specialist doctor physician expert colleague name consultant surgeon"
    " clinic hospital centre center practice place one people team who"
).split()
RECORD_NOUNS = (
    "record note result scan image file chart report slide imaging x-ray mri pathology history paperwork test biopsy"
).split()
TRANSFER_LEMMAS = (
    "send forward transfer share pass copy release email fax provide give get have access request obtain go move"
).split()
CERTAINTY = "sure certain confident positive convinced comfortable reassured settled".split()
DOUBT_WORDS = "unsure uncertain doubt".split()
EMOTION = (
    "scared worried anxious nervous afraid frightened terrified overwhelmed stressed uneasy upset shaken"
    " concerned panicked scare worry frighten terrify overwhelm stress shake"
).split()
SERIOUS_ADJ = (
    "big serious major huge scary frightening important heavy massive daunting devastating drastic"
    " life-changing permanent"
).split()
SERIOUS_NOUNS = "decision diagnosis deal step surgery operation treatment news thing change choice commitment".split()
FAMILY = (
    "family kid child wife husband partner son daughter mother mom mum father dad parent grandchild"
    " children sister brother"
).split()
ERROR_VERBS = (
    "miss overlook misdiagnose misread misjudge misinterpret botch mess screw bungle rush ignore dismiss"
    " lie neglect brush fob mislead hide"
).split()
NEGLECT_VERBS = (
    "listen look examine check order test care explain bother read know understand take consider run pay hear"
).split()
TRAITS = (
    "wrong incompetent mistaken careless lazy negligent arrogant clueless useless unqualified biased"
    " dismissive rude stubborn difficult ridiculous unprofessional hopeless sloppy inexperienced ignorant"
    " unreasonable"
).split()
WRONG_OBJECTS = "wrong mistake error mess blunder misdiagnosis".split()
# Verbs whose negation flips an embedded clause: "I'm not saying you're wrong", "It's not that I don't
# trust you", "I don't think you missed it".
FRAME_VERBS = "say mean think suggest imply accuse claim believe be want try blame feel".split()
# Verbs of going to, getting or booking another doctor.
SEEK_VERBS = (
    "see get go consult visit book switch find seek have make schedule change move transfer take ask look pursue"
    " arrange leave want need like try hear contact call email speak talk obtain request"
).split()
# Verbs that make a plan tentative rather than announced ("I'm thinking about a second opinion").
TENTATIVE = "think consider wonder ask hope maybe".split()
WH_WORDS = {"what", "why", "how", "who", "where", "when", "which", "whom", "whose"}
AUX_LEMMAS = {"be", "do", "have", "can", "could", "would", "will", "shall", "should", "may", "might", "must"}
HEDGE_MODALS = {"could", "would", "might", "may", "can"}
# Words a user may put in front of a question without changing it ("so, could you ...", "doctor, ...").
LEAD_INS = {"so", "and", "but", "ok", "okay", "well", "um", "uh", "also", "then", "doctor", "doc", "please", "hi"}


# --------------------------------------------------------------------------------------------------
# Patterns


def _token_patterns() -> dict[str, list[list[dict]]]:
    """Token-sequence patterns for concepts, by label."""
    mods = {"LOWER": {"IN": SO_MODIFIERS}}
    adjs = {"POS": {"IN": ["ADJ", "ADV", "NOUN"]}, "OP": "*"}
    hyphen = {"ORTH": "-", "OP": "?"}
    return {
        # A second opinion, however phrased: "second opinion", "another specialist", "someone else".
        "SO": [
            [mods, adjs, hyphen, {"LEMMA": {"IN": SO_HEADS}}],
            [mods, adjs, hyphen, {"LOWER": {"REGEX": r"^\w+(ologist|ician)s?$"}}],
            [{"LOWER": {"IN": SOMEONE + ["somewhere"]}}, {"LOWER": "else"}],
            [{"LOWER": "elsewhere"}],
            [
                {"LOWER": {"IN": ["university", "teaching", "academic"]}},
                {"LEMMA": {"IN": ["hospital", "clinic", "centre", "center"]}},
            ],
            [
                {"LEMMA": {"IN": ["switch", "change"]}},
                {"LOWER": {"IN": ["doctor", "doctors", "physician", "physicians", "gp", "gps"]}},
            ],
        ],
        # Weaker hints that only count together with a word asking for the doctor's judgement.
        "SO_WEAK": [
            [{"LEMMA": "specialist"}],
            [{"LOWER": {"REGEX": r"^\w+ologists?$"}}],
            [{"LEMMA": "confirm"}],
            [{"LOWER": "double"}, hyphen, {"LEMMA": "check"}],
            [{"LOWER": {"IN": SOMEONE}}, {"LOWER": {"IN": ["who", "that"]}}],
            [{"LEMMA": {"IN": ["see", "visit", "consult", "find", "try"]}}, {"LOWER": {"IN": SOMEONE}}],
            [{"LEMMA": "appointment"}, {"LOWER": {"IN": ["at", "with", "elsewhere"]}}],
        ],
        "EVAL": [[{"LEMMA": {"IN": STRONG_EVAL + WEAK_EVAL}}], [{"LOWER": {"IN": STRONG_EVAL + WEAK_EVAL}}]],
        "REACTION": [[{"LEMMA": {"IN": REACTION}}], [{"LOWER": {"IN": REACTION}}]],
        "WHATS_WRONG": [[{"LOWER": "what"}, {"LEMMA": "be"}, {"LOWER": "wrong"}, {"LOWER": "with"}]],
        # Indirect questions: "I was wondering", "I'd like to know", "help me understand".
        "INDIRECT": [
            [{"LEMMA": "wonder"}],
            [
                {"LEMMA": {"IN": ["like", "want", "love"]}},
                {"LOWER": "to"},
                {"LEMMA": {"IN": ["know", "ask", "understand", "hear"]}},
            ],
            [{"LEMMA": "help"}, {"LOWER": "me"}, {"LEMMA": {"IN": ["understand", "see"]}}],
            [{"LEMMA": "tell"}, {"LOWER": "me"}],
            [{"LEMMA": "curious"}],
        ],
        "HEDGE": [
            [{"LEMMA": "wonder"}],
            [{"LOWER": "do"}, {"LOWER": "you"}, {"LEMMA": "think"}],
            [{"LOWER": "would"}, {"LOWER": "you"}, {"LEMMA": "mind"}],
            [{"LOWER": "is"}, {"LOWER": "it"}, {"LOWER": "possible"}],
            [{"LOWER": "if"}, {"LOWER": {"IN": ["possible", "it's", "that's"]}}],
            [
                {"LOWER": "if"},
                {"LOWER": {"IN": ["it", "that"]}},
                {"LEMMA": "be"},
                {"LOWER": {"IN": ["ok", "okay", "alright", "fine", "possible"]}},
            ],
            [
                {"LOWER": "if"},
                {"LOWER": "you"},
                {"LOWER": {"IN": ["don't", "do"]}},
                {"LOWER": {"IN": ["n't", "not"]}, "OP": "?"},
                {"LEMMA": "mind"},
            ],
            [{"LOWER": {"IN": ["perhaps", "maybe", "possibly", "please"]}}],
            [{"LEMMA": {"IN": ["appreciate", "grateful", "willing"]}}],
        ],
        # Honest, personal reasons (journey step 2).
        "PEACE": [
            [{"LOWER": "peace"}, {"LOWER": "of"}, {"LOWER": "mind"}],
            [{"LEMMA": "sleep"}, {"LOWER": {"IN": ["better", "easier", "at"]}}],
            [{"LEMMA": "rest"}, {"LOWER": {"IN": ["easier", "easy"]}}],
            [{"LOWER": "mind"}, {"LOWER": "at"}, {"LOWER": {"IN": ["ease", "rest"]}}],
            [
                {"LEMMA": "feel"},
                {"LOWER": {"IN": ["more", "a", "much", "lot", "bit", "little"]}, "OP": "*"},
                {
                    "LOWER": {
                        "IN": [
                            "better",
                            "comfortable",
                            "confident",
                            "reassured",
                            "safer",
                            "easier",
                            "settled",
                            "calmer",
                        ]
                    }
                },
            ],
            [{"LEMMA": {"IN": ["reassurance", "sanity"]}}],
            [{"LEMMA": "reassure"}, {"LOWER": {"IN": ["me", "myself"]}}],
            [{"LOWER": "for"}, {"LOWER": {"IN": ["sure", "certain"]}}],
            [{"LOWER": "for"}, {"LOWER": "my"}, {"LOWER": "own"}, {"LEMMA": {"IN": ["sake", "good"]}}],
            [{"LOWER": "my"}, {"LEMMA": "option"}],
            [
                {"LEMMA": {"IN": ["make", "get"]}},
                {"LOWER": "the"},
                {"LOWER": "right"},
                {"LEMMA": {"IN": ["choice", "decision", "call"]}},
            ],
            [{"LEMMA": "get"}, {"LOWER": {"IN": ["this", "it"]}}, {"LOWER": "right"}],
            [
                {"LOWER": {"IN": ["my", "our"]}},
                {"LOWER": "own", "OP": "?"},
                {"LEMMA": {"IN": ["health", "life", "body", "future"]}},
            ],
            [
                {"LOWER": {"IN": ["i", "we"]}},
                {"LEMMA": {"IN": ["have", "'ve"]}},
                {"LOWER": {"IN": ["still", "some", "a", "few", "real"]}, "OP": "*"},
                {"LEMMA": "doubt"},
            ],
            [
                {"LOWER": "this"},
                {"LEMMA": {"IN": ["matter", "mean"]}},
                {"LOWER": {"IN": ["a", "so"]}, "OP": "?"},
                {"LOWER": {"IN": ["lot", "much"]}},
            ],
        ],
        "SERIOUS": [
            [{"LOWER": {"IN": SERIOUS_ADJ}}, {"LEMMA": {"IN": SERIOUS_NOUNS}}],
            [{"LOWER": "life"}, {"ORTH": "-"}, {"LOWER": {"IN": ["changing", "altering", "threatening"]}}],
            [{"LOWER": "a"}, {"LOWER": "lot"}, {"LOWER": "to"}, {"LOWER": {"IN": ["take", "process"]}}],
        ],
        "FAMILY": [[{"LOWER": {"IN": ["my", "our"]}}, {"LOWER": "whole", "OP": "?"}, {"LEMMA": {"IN": FAMILY}}]],
        # Attacks on competence that are not a "you + verb" structure.
        "INSULT": [
            [
                {"LOWER": {"IN": SOMEONE + ["a", "one", "doctor"]}},
                {"LOWER": {"IN": ["who", "that"]}},
                {"LOWER": {"IN": ["actually", "really", "truly", "even"]}, "OP": "?"},
                {"LEMMA": "know"},
                {"LOWER": "what"},
            ],
            [
                {"LOWER": "any"},
                {"LOWER": {"IN": ["real", "proper", "competent", "decent", "good", "half-decent", "qualified"]}},
                {"LEMMA": {"IN": ["doctor", "specialist", "physician"]}},
            ],
            [
                {"LOWER": "a"},
                {"LOWER": {"IN": ["real", "proper", "competent", "better", "qualified"]}},
                {"LEMMA": {"IN": ["doctor", "specialist", "physician"]}},
            ],
            [{"LOWER": "your"}, {"LOWER": "fault"}],
            [{"LOWER": "what"}, {"LOWER": "kind"}, {"LOWER": "of"}, {"LEMMA": "doctor"}],
            [{"LEMMA": "call"}, {"LOWER": "yourself"}],
            [{"LOWER": "you"}, {"LOWER": "doctors"}],
            [{"LOWER": {"IN": ["quack", "incompetent", "incompetence", "negligence", "negligent", "clueless"]}}],
        ],
        "REFERRAL_NOUN": [[{"LEMMA": {"IN": ["referral", "referal"]}}], [{"LOWER": {"IN": ["referral", "referrals"]}}]],
    }


def _you_subject(verb: dict) -> list[dict]:
    return [
        {"RIGHT_ID": "verb", "RIGHT_ATTRS": verb},
        {
            "LEFT_ID": "verb",
            "REL_OP": ">",
            "RIGHT_ID": "subject",
            "RIGHT_ATTRS": {"DEP": {"IN": ["nsubj", "nsubjpass"]}, "LOWER": "you"},
        },
    ]


def _child(right_id: str, attrs: dict, rel: str = ">") -> dict:
    return {"LEFT_ID": "verb", "REL_OP": rel, "RIGHT_ID": right_id, "RIGHT_ATTRS": attrs}


def _dependency_patterns() -> dict[str, list[list[dict]]]:
    """Who-does-what patterns over the parse. The first token of each match is the clause's verb."""
    verbs = {"POS": {"IN": ["VERB", "AUX"]}}
    you_target = {"LOWER": {"IN": YOU}, "DEP": {"NOT_IN": ["nsubj", "nsubjpass"]}}
    record = {"LEMMA": {"IN": RECORD_NOUNS}}
    return {
        # "you missed it", "you rushed this"
        "YOU_ERROR": [_you_subject({"LEMMA": {"IN": ERROR_VERBS}})],
        # "you never listen", "you didn't even examine me"
        "YOU_NEGLECT": [_you_subject({"LEMMA": {"IN": NEGLECT_VERBS}}) + [_child("neg", {"DEP": "neg"})]],
        # "did you even look at my scans?"
        "YOU_EVEN": [_you_subject(verbs) + [_child("even", {"LOWER": "even"})]],
        # "you're wrong", "you're being difficult"
        "YOU_TRAIT": [
            _you_subject({"LEMMA": {"IN": ["be", "seem", "sound", "look", "get"]}})
            + [_child("trait", {"DEP": {"IN": ["acomp", "attr", "oprd"]}, "LEMMA": {"IN": TRAITS}})]
        ],
        # "you got it wrong", "you made a mistake"
        "YOU_WRONG": [_you_subject(verbs) + [_child("wrong", {"LEMMA": {"IN": WRONG_OBJECTS}})]],
        # "you should have ordered more tests"
        "YOU_SHOULD_HAVE": [
            _you_subject(verbs)
            + [
                _child("modal", {"DEP": "aux", "LOWER": {"IN": ["should", "could", "ought"]}}),
                _child("perfect", {"DEP": "aux", "LOWER": {"IN": ["have", "'ve"]}}),
            ]
        ],
        # "I don't trust your judgement", "I don't believe you"
        "DISTRUST": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["trust", "believe", "agree", "rely"]}}}]
            + [_child("neg", {"DEP": "neg"}), _child("target", you_target, ">>")],
            # "I don't believe a word you say": the doctor is the subject of a clause below.
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["trust", "believe"]}}}]
            + [_child("neg", {"DEP": "neg"}), _child("target", {"LOWER": "you", "DEP": "nsubj"}, ">>")],
        ],
        # "I doubt your diagnosis", "I blame you"
        "DOUBT_YOU": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["doubt", "question", "blame"]}, "POS": "VERB"}}]
            + [_child("target", you_target, ">>")]
        ],
        # "I have no faith in your diagnosis", "I've lost confidence in you"
        "NO_FAITH": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["have", "lose"]}}}]
            + [
                _child("faith", {"DEP": "dobj", "LEMMA": {"IN": ["faith", "confidence", "trust"]}}),
                {"LEFT_ID": "faith", "REL_OP": ">>", "RIGHT_ID": "target", "RIGHT_ATTRS": {"LOWER": {"IN": YOU}}},
            ]
        ],
        # "could you refer me", "please refer me"
        "REFER": [[{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": "refer", "POS": "VERB"}}]],
        # "could you recommend someone", "do you know a good specialist"
        "RECOMMEND": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["recommend", "suggest", "know", "name", "point"]}}}]
            + [_child("person", {"DEP": {"IN": ["dobj", "pobj", "nsubjpass"]}, "LEMMA": {"IN": PERSON_NOUNS}}, ">>")],
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["recommend", "suggest", "know", "name", "point"]}}}]
            + [_child("person", {"DEP": {"IN": ["dobj", "pobj"]}, "LOWER": {"REGEX": r"(ologist|ician)s?$"}}, ">>")],
        ],
        # "is there anyone you'd recommend" (the verb sits in a relative clause on the person)
        "RECOMMEND_REL": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": ["recommend", "suggest", "trust"]}, "DEP": "relcl"}}]
            + [{"LEFT_ID": "verb", "REL_OP": "<", "RIGHT_ID": "person", "RIGHT_ATTRS": {"LEMMA": {"IN": PERSON_NOUNS}}}]
        ],
        # "send my records", "have my records sent", "copies of my scans". Direct links only: "wait
        # for results" is not a request for records.
        "RECORDS": [
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": TRANSFER_LEMMAS}}}, _child("record", record)],
            [
                {"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": TRANSFER_LEMMAS}}},
                _child("clause", {"DEP": {"IN": ["ccomp", "xcomp", "acl"]}}),
                {"LEFT_ID": "clause", "REL_OP": ">", "RIGHT_ID": "record", "RIGHT_ATTRS": record},
            ],
            [
                {"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": TRANSFER_LEMMAS}, "DEP": "acl"}},
                {"LEFT_ID": "verb", "REL_OP": "<", "RIGHT_ID": "record", "RIGHT_ATTRS": record},
            ],
            [{"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": "copy"}}, _child("record", record, ">>")],
        ],
    }


@dataclass(frozen=True)
class _Patterns:
    tokens: Matcher
    deps: DependencyMatcher


@cache
def _patterns() -> _Patterns:
    vocab = load_nlp().vocab
    tokens = Matcher(vocab)
    for label, patterns in _token_patterns().items():
        tokens.add(label, patterns)
    deps = DependencyMatcher(vocab)
    for label, patterns in _dependency_patterns().items():
        deps.add(label, patterns)
    return _Patterns(tokens, deps)


# --------------------------------------------------------------------------------------------------
# Reading the parse


def _negated(token: Token) -> bool:
    return any(child.dep_ == "neg" or child.lower_ == "never" for child in token.children)


def _clause_verb(token: Token) -> Token:
    """The verb (or copula) a token belongs to: itself if it is one, else the nearest verbal head."""
    current = token
    for _ in range(8):
        if current.pos_ in ("VERB", "AUX") or current.dep_ == "ROOT" or current.head is current:
            return current
        current = current.head
    return current


def _subject(verb: Token) -> Token | None:
    """The subject of a verb, inherited through infinitives and conjuncts ("I'm going to see ...")."""
    current = verb
    for _ in range(6):
        for child in current.children:
            if child.dep_ in ("nsubj", "nsubjpass", "expl", "csubj"):
                return child
        if current.dep_ in ("xcomp", "conj", "advcl", "acomp") and current.head is not current:
            current = current.head
        else:
            return None
    return None


def _is_first_person(token: Token | None) -> bool:
    return token is not None and token.lower_ in FIRST_PERSON


def _ancestors_upto_sentence(token: Token) -> Iterator[Token]:
    yield from (ancestor for ancestor in token.ancestors if ancestor.sent == token.sent)


def _under_negated_frame(token: Token) -> bool:
    """True when a negated saying/thinking verb above the token cancels it: "I'm not saying you're wrong"."""
    return any(_negated(a) and a.lemma_.lower() in FRAME_VERBS for a in _ancestors_upto_sentence(token))


def _conditional(token: Token) -> bool:
    """True inside an "if"/"whether" clause, which states a possibility, not a decision."""
    chain = [token, *_ancestors_upto_sentence(token)]
    for node in chain[:3]:
        if any(child.dep_ == "mark" and child.lower_ in ("if", "whether") for child in node.children):
            return True
    return False


def _first_content(sent: Span) -> Token | None:
    for token in sent:
        if token.is_punct or token.lower_ in LEAD_INS or token.pos_ == "INTJ":
            continue
        return token
    return None


def _inverted(sent: Span) -> bool:
    """A yes/no question without "?": an auxiliary or modal before its subject ("could you refer me")."""
    first = _first_content(sent)
    if first is None or first.lemma_.lower() not in AUX_LEMMAS or first.tag_ not in ("MD", "VBZ", "VBP", "VBD"):
        return False
    following = [token for token in sent if first.i < token.i <= first.i + 3]
    return any(token.dep_ in ("nsubj", "nsubjpass", "expl") for token in following)


def _is_question(sent: Span) -> bool:
    if any(token.text == "?" for token in sent):
        return True
    first = _first_content(sent)
    if first is not None and first.lower_ in WH_WORDS:
        return True
    return _inverted(sent)


# --------------------------------------------------------------------------------------------------
# Per-sentence facts the tag rules share


@dataclass
class _Facts:
    sent: Span
    question: bool
    indirect: bool
    hedged: bool
    concepts: dict[str, list[Span]]
    deps: dict[str, list[tuple[Token, ...]]]

    @property
    def question_like(self) -> bool:
        return self.question or self.indirect

    def has(self, label: str) -> bool:
        return bool(self.concepts.get(label))

    def covered(self, *labels: str) -> set[int]:
        return {token.i for label in labels for span in self.concepts.get(label, []) for token in span}


def _sentence_facts(doc: Doc) -> list[_Facts]:
    patterns = _patterns()
    facts = []
    for sent in doc.sents:
        span = sent.as_doc()
        concepts: dict[str, list[Span]] = {}
        for match_id, start, end in patterns.tokens(span):
            concepts.setdefault(span.vocab.strings[match_id], []).append(span[start:end])
        deps: dict[str, list[tuple[Token, ...]]] = {}
        for match_id, token_ids in patterns.deps(span):
            deps.setdefault(span.vocab.strings[match_id], []).append(tuple(span[i] for i in token_ids))
        whole = span[:]
        facts.append(
            _Facts(
                sent=whole,
                question=_is_question(whole),
                indirect=bool(concepts.get("INDIRECT")),
                hedged=_hedged(whole, concepts),
                concepts=concepts,
                deps=deps,
            )
        )
    return facts


def _hedged(sent: Span, concepts: dict[str, list[Span]]) -> bool:
    if concepts.get("HEDGE"):
        return True
    first = _first_content(sent)
    if first is not None and first.lower_ in HEDGE_MODALS and _inverted(sent):
        return True
    # "It might be worth ...", "we could ...": a softened statement.
    return any(token.tag_ == "MD" and token.lower_ in ("might", "could", "may") for token in sent)


# --------------------------------------------------------------------------------------------------
# Tag rules, one per tag. Each looks at one sentence; a line's tags are the union over its sentences.


def _accusations(facts: _Facts) -> list[Token]:
    """Anchor tokens of accusations that survive negation: "I'm not saying you're wrong" has none."""
    anchors = []
    for label in ("YOU_ERROR", "YOU_TRAIT", "YOU_WRONG", "YOU_SHOULD_HAVE", "DOUBT_YOU"):
        # The accusation itself must not be negated ("you didn't miss anything").
        anchors += [match[0] for match in facts.deps.get(label, []) if not _negated(match[0])]
    # These are accusations because of their negation ("you never listen", "I don't trust you").
    anchors += [match[0] for match in facts.deps.get("YOU_NEGLECT", [])]
    anchors += [match[0] for match in facts.deps.get("DISTRUST", []) if not _is_you(_subject(match[0]))]
    # "Did you even look?" is sarcasm in a question or with a negation, not in "you even said so".
    anchors += [m[0] for m in facts.deps.get("YOU_EVEN", []) if facts.question or _negated(m[0])]
    for verb, faith, *_ in facts.deps.get("NO_FAITH", []):
        if verb.lemma_ == "lose" or any(child.lower_ == "no" for child in faith.children) or _negated(verb):
            anchors.append(verb)
    anchors += [span.root for span in facts.concepts.get("INSULT", [])]
    return [anchor for anchor in anchors if not _under_negated_frame(anchor)]


def _is_you(token: Token | None) -> bool:
    return token is not None and token.lower_ == "you"


def _announces(facts: _Facts) -> bool:
    """A first-person, non-tentative, non-negated plan to go elsewhere stated as a fact."""
    spans = facts.concepts.get("SO", []) + facts.concepts.get("SO_WEAK", [])
    return any(_announced_span(span) for span in spans)


def _announced_span(span: Span) -> bool:
    chain = [span.root, *_ancestors_upto_sentence(span.root)]
    verbs = [token for token in chain if token.pos_ in ("VERB", "AUX")]
    # The other doctor must be what the user goes to, gets or books ("I'd sleep better with another
    # view" is a reason, not a plan).
    if not verbs or verbs[0].lemma_.lower() not in SEEK_VERBS:
        return False
    # The verb that carries the subject decides who is acting and whether it is a statement.
    for verb in verbs:
        subject = _subject(verb)
        if subject is None:
            continue
        if not _is_first_person(subject) or not _finite(verb) or _has_inverted_aux(verb):
            return False
        break
    else:
        return False
    return not any(_negated(verb) or _conditional(verb) or _tentative(verb, span) for verb in verbs)


def _finite(verb: Token) -> bool:
    if verb.tag_ in ("VBZ", "VBP", "VBD", "MD"):
        return True
    return any(child.dep_ in ("aux", "auxpass") for child in verb.children)


def _has_inverted_aux(verb: Token) -> bool:
    subject = _subject(verb)
    return any(child.dep_ == "aux" and subject is not None and child.i < subject.i for child in verb.children)


def _tentative(verb: Token, span: Span) -> bool:
    lemma = verb.lemma_.lower()
    if lemma == "ask":
        # "ask another doctor to review" is a plan; "ask about a second opinion" is a question.
        return not any(child.dep_ == "dobj" and child.i in range(span.start, span.end) for child in verb.children)
    if lemma in TENTATIVE:
        return True
    return any(child.tag_ == "MD" and child.lower_ in ("might", "may", "could") for child in verb.children)


def _asks_why(facts: _Facts) -> bool:
    for token in facts.sent:
        if token.lower_ != "why":
            continue
        if len(facts.sent) <= 3:  # "Why not?", "But why?"
            return True
        verb = _clause_verb(token.head)
        # "why do I have to wait" asks about the user's situation, not the doctor's objection; "help
        # me understand why" and "can I ask why" frame the question.
        mine = _is_first_person(_subject(verb)) and verb.lemma_.lower() not in ("understand", "know", "ask", "see")
        if facts.question_like and not mine:
            return True
    if facts.has("WHATS_WRONG"):
        return True
    if not facts.question_like:
        return False
    if any(not _first_person_feeling(span.root) for span in facts.concepts.get("REACTION", [])):
        return True
    # "Is there a reason you'd prefer I didn't?": a reason the doctor holds.
    return any(
        token.lemma_ == "reason" and any(_is_you(child) and child.dep_ == "nsubj" for child in token.subtree)
        for token in facts.sent
    )


def _first_person_feeling(token: Token) -> bool:
    """ "I'm worried" / "my concern" are the user's feelings, not the doctor's objection."""
    owner = next((child for child in token.children if child.dep_ == "poss"), None)
    if owner is not None:  # "my concern" is mine, "your hesitation" is the doctor's
        return _is_first_person(owner)
    return _is_first_person(_subject(_clause_verb(token)))


def _referral(facts: _Facts) -> bool:
    for span in facts.concepts.get("REFERRAL_NOUN", []):
        if not _negated(_clause_verb(span.root)) and not _under_negated_frame(span.root):
            return True
    request = _request_context(facts)
    for (verb,) in facts.deps.get("REFER", []):
        if request and not _negated(verb) and verb.tag_ != "VBD":
            return True
    recommendations = facts.deps.get("RECOMMEND", []) + facts.deps.get("RECOMMEND_REL", [])
    if request and any(not _negated(match[0]) for match in recommendations):
        return True
    if facts.question and _wh_recommendation(facts.sent):
        return True
    return request and any(not _negated(match[0]) for match in facts.deps.get("RECORDS", []))


def _wh_recommendation(sent: Span) -> bool:
    """ "Who would you suggest I see?", "Where should I go for this?" """
    words = {token.lower_ for token in sent}
    lemmas = {token.lemma_.lower() for token in sent}
    if "which" in words and lemmas & set(PERSON_NOUNS):  # "which specialist would you see?"
        return True
    return bool(words & {"who", "where"}) and bool(
        lemmas & {"recommend", "suggest", "see", "go", "contact", "consult", "visit", "try", "trust"}
    )


def _request_context(facts: _Facts) -> bool:
    """A question, a polite or imperative request, or a stated need ("I need", "I'd like")."""
    if facts.question_like or facts.hedged:
        return True
    first = _first_content(facts.sent)
    if first is not None and first.tag_ == "VB" and first.dep_ == "ROOT":
        return True
    return any(
        token.lemma_.lower() in ("need", "want", "like", "appreciate", "require") and _is_first_person(_subject(token))
        for token in facts.sent
    )


def _reasons(facts: _Facts) -> list[Token]:
    """Anchor tokens of honest personal reasons (certainty, peace of mind, fear, seriousness, family)."""
    anchors = [span.root for label in ("PEACE", "FAMILY") for span in facts.concepts.get(label, [])]
    anchors += [span.root for span in facts.concepts.get("SERIOUS", []) if not _negated(_clause_verb(span.root))]
    anchors += [token for token in facts.sent if _reason_word(token)]
    if facts.question_like or facts.hedged:
        return anchors  # "for my peace of mind, could you refer me?" is a reason attached to a request
    return [anchor for anchor in anchors if not _about_you(anchor)]


def _reason_word(token: Token) -> bool:
    """One word that carries a reason: wanting certainty, a feeling, honest doubt, a "because I ..."
    clause, or "this is serious"."""
    lemma = token.lemma_.lower()
    verb = _clause_verb(token)
    if lemma in CERTAINTY:
        return _wants_certainty(token)
    if lemma in EMOTION:
        return _feels(token)
    if lemma in DOUBT_WORDS and token.pos_ == "ADJ":
        return _is_first_person(_subject(verb))
    if token.dep_ == "mark" and token.lower_ in ("because", "since", "cause"):
        return _is_first_person(_subject(token.head)) and not _negated(token.head)
    if lemma in SERIOUS_ADJ and token.dep_ == "acomp":
        subject = _subject(verb)
        return subject is not None and subject.lower_ in ("this", "it", "that") and not _negated(verb)
    return False


def _wants_certainty(token: Token) -> bool:
    """ "I want to be sure", "just to be certain", "make sure" -- or honest doubt: "I'm not sure"."""
    head = token.head
    if any(child.dep_ == "ccomp" and _is_you(_subject(child)) for child in token.children):
        return False  # "I'm not sure you know what you're doing" is not a reason
    if head.lemma_.lower() == "make" or any(child.lower_ == "to" for child in head.children):
        return True
    if head.dep_ == "xcomp" or head.lemma_.lower() in ("want", "need", "like"):
        return True
    verb = _clause_verb(token)
    return _negated(verb) and _is_first_person(_subject(verb))


def _feels(token: Token) -> bool:
    verb = _clause_verb(token)
    if _negated(verb) or _negated(token):
        return False
    if any(child.dep_ == "dobj" and child.lower_ in ("me", "us") for child in token.children):
        return True
    return _is_first_person(_subject(verb)) or _is_first_person(_subject(token))


def _about_you(token: Token) -> bool:
    """A "reason" whose clause is about the doctor ("because you missed it") is not a personal reason."""
    return _is_you(_subject(_clause_verb(token)))


def _asks_opinion(facts: _Facts, line_has_so: bool, why: bool, referral: bool) -> bool:
    if why or not facts.question_like:
        return False
    taken = facts.covered("SO", "SO_WEAK", "PEACE", "INDIRECT", "REFERRAL_NOUN")
    evals = [span.root for span in facts.concepts.get("EVAL", []) if span.root.i not in taken]
    strong = any(token.lemma_.lower() in STRONG_EVAL or token.lower_ in STRONG_EVAL for token in evals)
    if referral:
        return strong and (facts.has("SO") or facts.has("SO_WEAK") or facts.has("REFERRAL_NOUN"))
    if facts.has("SO"):
        return True
    if facts.has("SO_WEAK"):
        return bool(evals)
    # "What do you think?" after a sentence that mentioned a second opinion.
    return line_has_so and bool(evals)


# --------------------------------------------------------------------------------------------------
# Public analysis


def assess_line(text: str) -> LineAssessment:
    """Tag one rehearsal line; never raises on odd input (empty, huge, binary)."""
    clean = _normalise(text or "")
    if not any(char.isalpha() for char in clean):
        return LineAssessment((), "?" in clean, False, False)
    facts = _sentence_facts(_parse(clean))
    line_has_so = any(f.has("SO") for f in facts)
    found: set[str] = set()
    first_person_reason = False
    for fact in facts:
        why = _asks_why(fact)
        referral = _referral(fact)
        reasons = _reasons(fact)
        flags = {
            "asks_why": why,
            "requests_referral": referral,
            "honest_reason": bool(reasons),
            "accusatory": bool(_accusations(fact)),
            "announces": _announces(fact),
            "asks_opinion": _asks_opinion(fact, line_has_so, why, referral),
        }
        found |= {tag for tag, present in flags.items() if present}
        first_person_reason |= bool(reasons) and any(t.lower_ in FIRST_PERSON for t in fact.sent)
    return LineAssessment(
        tags=tuple(tag for tag in TAGS if tag in found),
        is_question=any(f.question for f in facts),
        hedged=any(f.hedged for f in facts),
        first_person_reason=first_person_reason,
    )


# --------------------------------------------------------------------------------------------------
# Content


@cache
def _content(path: Path = CONTENT_PATH) -> dict[str, Any]:
    """The reviewed texts; checked once so a missing key fails at start-up, not mid-conversation."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    _check_content(data)
    return data


def _check_content(data: dict[str, Any]) -> None:
    problems = []
    for scenario in SCENARIOS:
        for temperament in TEMPERAMENTS:
            if len(data["openings"][scenario].get(temperament) or []) < 3:
                problems.append(f"openings.{scenario}.{temperament}")
        if len(data["coaching"]["better"].get(scenario) or []) < 2:
            problems.append(f"coaching.better.{scenario}")
    for temperament in TEMPERAMENTS:
        for situation in SITUATIONS:
            if len(data["replies"][temperament].get(situation) or []) < 3:
                problems.append(f"replies.{temperament}.{situation}")
    if problems:
        raise ValueError(f"content/rehearsal.yml needs at least 3 texts (2 for phrasings) at: {problems}")


def _pick(options: list[str] | str, variant: int) -> str:
    if isinstance(options, str):
        return options.strip()
    return options[variant % len(options)].strip()


def scenario_title(scenario: str) -> str:
    _require(scenario, SCENARIOS, "scenario")
    return _content()["scenarios"][scenario]["title"]


def temperament_title(temperament: str) -> str:
    _require(temperament, TEMPERAMENTS, "temperament")
    return _content()["temperaments"][temperament]["title"]


def _require(name: str, allowed: Iterable[str], kind: str) -> None:
    if name not in allowed:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {tuple(allowed)}")


# --------------------------------------------------------------------------------------------------
# The conversation


def _clamp(tension: int) -> int:
    return max(0, min(MAX_TENSION, tension))


def start(scenario: str, temperament: str) -> RehearsalState:
    _require(scenario, SCENARIOS, "scenario")
    _require(temperament, TEMPERAMENTS, "temperament")
    return RehearsalState(scenario, temperament, START_TENSION[temperament], [])


def opening_line(state: RehearsalState, variant: int) -> str:
    return _pick(_content()["openings"][state.scenario][state.temperament], variant)


def _tension_change(assessment: LineAssessment, temperament: str) -> int:
    tags = set(assessment.tags)
    if "accusatory" in tags:
        # A defensive doctor takes an accusation harder than the others.
        return 2 if temperament == "defensive" else 1
    if "announces" in tags:
        return 1
    calming = [
        (assessment.is_question or assessment.hedged or bool(tags & {"asks_opinion", "requests_referral"}))
        and "honest_reason" in tags,
        "asks_why" in tags,
        assessment.hedged and bool(tags & {"asks_opinion", "requests_referral", "asks_why"}),
    ]
    # A defensive doctor comes round one step at a time, however good the line.
    return -min(1 if temperament == "defensive" else 2, sum(calming))


def _situation(tags: set[str], scenario: str, tension: int) -> str:
    calm = tension <= CALM
    if "accusatory" in tags:
        return "accused"
    if "announces" in tags:
        return "announced"
    if "asks_why" in tags:
        return "why_open" if calm else "why_guarded"
    # The scenario's own request is answered first when a line makes both.
    order = ("requests_referral", "asks_opinion") if scenario == "referral" else ("asks_opinion", "requests_referral")
    for tag in order:
        if tag in tags:
            prefix = "referral" if tag == "requests_referral" else "opinion"
            return f"{prefix}_yes" if calm else f"{prefix}_no"
    return "reason_heard" if "honest_reason" in tags else "unclear"


def take_turn(state: RehearsalState, line: str, variant: int) -> TurnResult:
    """Assess the user's line, update the doctor's tension, answer in character and coach."""
    assessment = assess_line(line)
    tension = _clamp(state.tension + _tension_change(assessment, state.temperament))
    turns = [list(tags) for tags in state.turns] + [list(assessment.tags)]
    new_state = RehearsalState(state.scenario, state.temperament, tension, turns)
    situation = _situation(set(assessment.tags), state.scenario, tension)
    reached = situation in GOALS[state.scenario]
    reply = _pick(_content()["replies"][state.temperament][situation], variant)
    coaching = _coaching(assessment, state, reached, variant)
    return TurnResult(reply, coaching, new_state, reached or len(turns) >= MAX_TURNS)


def _coaching(assessment: LineAssessment, state: RehearsalState, reached: bool, variant: int) -> str:
    texts = _content()["coaching"]
    tags = set(assessment.tags)
    better = texts["try"].format(phrasing=_pick(texts["better"][state.scenario], variant))
    for problem in ("accusatory", "announces"):
        if problem in tags:
            return f"{_pick(texts['change'][problem], variant)} {better}"
    good = [tag for tag in (*KEY_TAGS[state.scenario], *GOOD_TAGS) if tag in tags]
    if not good:
        return f"{_pick(texts['change']['none'], variant)} {better}"
    first = _pick(texts["worked"][good[0]], variant)
    if reached:
        return f"{first} {_pick(texts['reached'], variant)}"
    used_before = {tag for turn in state.turns for tag in turn}
    missing = [tag for tag in KEY_TAGS[state.scenario] if tag not in tags and tag not in used_before]
    if missing:
        return f"{first} {_pick(texts['missing'][missing[0]], variant)}"
    if assessment.hedged:
        return f"{first} {_pick(texts['worked']['hedged'], variant)}"
    return first


def summary(state: RehearsalState) -> list[str]:
    """End-of-rehearsal messages: what went well, what to practise, a script, and another go."""
    texts = _content()["summary"]
    used = {tag for turn in state.turns for tag in turn}
    # The scenario's own skills come first: only two points fit in a chat-sized message.
    ranked = list(dict.fromkeys((*KEY_TAGS[state.scenario], *GOOD_TAGS)))
    did_well = [_pick(texts["did_well"][tag], 0) for tag in ranked if tag in used] or [
        _pick(texts["did_well"]["nothing"], 0)
    ]
    practise = [_pick(texts["practise"][tag], 0) for tag in ("accusatory", "announces") if tag in used]
    practise += [_pick(texts["practise"][tag], 0) for tag in KEY_TAGS[state.scenario] if tag not in used]
    if not practise:
        practise = [_pick(texts["practise"]["nothing"], 0)]
    next_temperament = TEMPERAMENTS[(TEMPERAMENTS.index(state.temperament) + 1) % len(TEMPERAMENTS)]
    return [
        " ".join([texts["did_well"]["intro"].strip(), *did_well[:2]]),
        " ".join([texts["practise"]["intro"].strip(), *practise[:2]]),
        _script(state.scenario, used),
        texts["offer"].strip().format(temperament=_content()["temperaments"][next_temperament]["in_sentence"]),
    ]


def _script(scenario: str, used: set[str]) -> str:
    """A short script from reviewed pieces: a reassurance first if they accused or announced, then the
    scenario's pieces in a natural order."""
    texts = _content()["summary"]["script"]
    missed = [tag for tag in KEY_TAGS[scenario] if tag not in used]
    pieces = [texts["pieces"]["reassure"]] if used & {"accusatory", "announces"} else []
    pieces += [texts["pieces"][tag] for tag in texts["order"][scenario]]
    intro = texts["intro_missed"] if missed else texts["intro_complete"]
    return f"{intro.strip()} “{' '.join(piece.strip() for piece in pieces)}”"

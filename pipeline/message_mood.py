"""Marks the parts of a message that do not state a fact about the user, as `mood` entities: what-ifs,
yes/no questions, negations and other people's stories.

Why: the preparation kit notes the user's situation (the second opinion differs, surgery was proposed)
from what they say, and the letters and the summary then state it as theirs. But the intent says what a
message is about, not whether it happened to the user: "What if the new doctor tells me something
totally different?" is `opinions_differ` just as "the second opinion came back different" is. Whether a
clause asserts something is grammar, which the project's spaCy pipeline already parses, so it is read
here, once, for every consumer, from the dependency parse and a few closed word classes:

- hypothetical: a clause under "if"/"unless", with a modal of possibility or the future (might, could,
  would, may, can, will), the not-yet-past complement of a fear, hope or supposition ("I'm scared the
  second doctor disagrees", "suppose they operate"), or a not-yet-past "when" clause ("what happens
  when the opinions differ?");
- question: a sentence asking yes or no ("is it normal for doctors to refuse?", "the second opinion
  was different?"). A wh-question is a request: what it takes for granted stays plain ("what should I
  ask about the surgery they proposed?"), unless a clause of it is marked on its own ("what if ...");
- negated: a clause with not, never, n't or a "no" subject or object;
- other_person: a clause whose subject is, or belongs to, someone else ("my friend's surgeon", "my
  sister", "people"), or whose care verb is about him or her ("refused to refer her").

Each marked clause becomes one entity spanning the clause with its subordinate clauses; the value is
the mood. So a consumer can tell which words were asserted: a fact counts only where no `mood` entity
covers it (secondlook/facts.py). The entity does not feature in dialogue prediction (domain.yml); the
action that notes a fact reads it and asks the user when a fact was not said plainly
(action_confirm_situation). Deterministic and not trained: the intent data cannot teach it, and a
marked clause costs one confirming question at most, while an unmarked guess would end up in a letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.tokens import Doc, Span, Token

from secondlook.facts import MOOD_ENTITY

HYPOTHETICAL, QUESTION, NEGATED, OTHER_PERSON = "hypothetical", "question", "negated", "other_person"

CONDITIONAL_MARKS = {"if", "unless", "whether"}
# Modals (by lemma: "'ll" is will, "ca" of "can't" is can) that make a clause a possibility or a future.
MODALS = {"might", "could", "would", "may", "can", "will", "shall"}
# Heads whose not-yet-past complement is imagined, feared or hoped, not reported.
ATTITUDES = {
    "worry", "worried", "fear", "afraid", "scared", "frightened", "terrified", "nervous", "anxious",
    "concerned", "dread", "hope", "wish", "suppose", "imagine", "assume", "pretend", "wonder",
}  # fmt: skip
# "Say the second doctor disagrees", "let's say ...": only as an imperative does "say" suppose.
SUPPOSING_IMPERATIVES = {"say"}
TEMPORAL_OPENERS = {"when", "whenever", "once"}
# Someone other than the user (and their own doctors), as a subject or its owner.
OTHER_PEOPLE = {
    "friend", "sister", "brother", "mother", "mom", "mum", "father", "dad", "husband", "wife", "son",
    "daughter", "child", "kid", "aunt", "uncle", "cousin", "niece", "nephew", "grandmother", "grandfather",
    "grandma", "grandpa", "gran", "granny", "neighbour", "neighbor", "colleague", "coworker", "boss",
    "relative", "someone", "somebody", "everyone", "everybody", "anyone", "people", "patient", "guy",
    "woman", "man", "girl", "boy",
}  # fmt: skip
DOCTOR_WORDS = {"doctor", "doc", "dr", "physician", "gp", "surgeon", "specialist", "consultant", "oncologist"}
THIRD_PERSON_OBJECTS = {"her", "him"}
CARE_VERBS = {"refer", "treat", "diagnose", "operate", "examine"}
WH_WORDS = {"WDT", "WP", "WP$", "WRB"}
OPENING_FILLERS = {"so", "ok", "okay", "but", "and", "well", "hmm", "also", "then", "oh", "now", ","}
QUESTION_OPENERS = {"be", "do", "have"}
SUBJECTS = {"nsubj", "nsubjpass", "expl"}
SEGMENT_BREAKS = {",", ";", ":", "-", "–", "—"}
# "the second doctor thinks it's not cancer": a negation the user reports is what the doctor said.
REPORTING = {"say", "think", "tell", "believe", "feel", "reckon", "suspect", "explain", "conclude"}


def _is_clause_head(token: Token) -> bool:
    return token.dep_ == "ROOT" or token.pos_ in ("VERB", "AUX") and token.dep_ not in ("aux", "auxpass")


def _past(clause: Token) -> bool:
    return clause.tag_ in ("VBD", "VBN") or any(
        child.dep_ in ("aux", "auxpass") and child.tag_ == "VBD" for child in clause.children
    )


def _has_attitude(head: Token) -> bool:
    words = [head, *(child for child in head.children if child.dep_ in ("acomp", "attr", "oprd"))]
    if any(word.lemma_.lower() in ATTITUDES or word.lower_ in ATTITUDES for word in words):
        return True
    subjects = [child for child in head.children if child.dep_ in SUBJECTS]
    return head.lemma_.lower() in SUPPOSING_IMPERATIVES and all(subject.lemma_.lower() == "us" for subject in subjects)


def _is_hypothetical(clause: Token) -> bool:
    children = list(clause.children)
    if any(child.dep_ == "mark" and child.lower_ in CONDITIONAL_MARKS for child in children):
        return True
    if any(child.lower_ == "in" and any(word.lower_ == "case" for word in child.children) for child in children):
        return True
    if any(child.tag_ == "MD" and child.lemma_.lower() in MODALS for child in children):
        return True
    if clause.dep_ in ("ccomp", "advcl", "xcomp") and _has_attitude(clause.head) and not _past(clause):
        return True
    opened_by_when = any(child.lower_ in TEMPORAL_OPENERS for child in children if child.dep_ in ("advmod", "mark"))
    return clause.dep_ == "advcl" and opened_by_when and not _past(clause)


def _is_negated(clause: Token) -> bool:
    if clause.dep_ == "ccomp" and clause.head.lemma_.lower() in REPORTING:
        return False
    for child in clause.children:
        if child.dep_ == "neg":
            return True
        if child.dep_ in (*SUBJECTS, "dobj", "attr") and any(
            grandchild.dep_ == "det" and grandchild.lower_ == "no" for grandchild in child.children
        ):
            return True
    return False


def _someone_else(noun: Token) -> bool:
    """Whether a noun phrase names another person ("my sister", "a friend of mine") or belongs to one
    ("my friend's surgeon", "her doctor")."""
    if noun.lemma_.lower() in OTHER_PEOPLE or noun.lower_ in OTHER_PEOPLE:
        return True
    for child in noun.children:
        if child.dep_ == "poss" and (
            _someone_else(child) or child.lower_ in ("her", "his") and noun.lemma_.lower() in DOCTOR_WORDS
        ):
            return True
        if child.dep_ == "prep" and any(_someone_else(grandchild) for grandchild in child.children):
            return True
    return False


def _is_about_someone_else(clause: Token) -> bool:
    for child in clause.children:
        if child.dep_ in SUBJECTS and _someone_else(child):
            return True
        if clause.lemma_.lower() in CARE_VERBS:
            objects = [child] if child.dep_ in ("dobj", "dative") else []
            if child.dep_ == "prep":
                objects = [grandchild for grandchild in child.children if grandchild.dep_ == "pobj"]
            if any(word.lower_ in THIRD_PERSON_OBJECTS or _someone_else(word) for word in objects):
                return True
    return False


def _first_word(tokens: Span) -> Token | None:
    return next((token for token in tokens if token.lower_ not in OPENING_FILLERS and not token.is_punct), None)


def _yes_no_question(sentence: Span) -> Span | None:
    """The part of the sentence that asks yes or no, if any: the stretch after the last comma before a
    "?" that does not open with a wh-word ("The second opinion differs, is that normal?"), or a whole
    sentence opening with an inverted auxiliary ("is it normal for doctors to refuse")."""
    marks = [token.i for token in sentence if "?" in token.text]
    if marks:
        breaks = [token.i for token in sentence if token.text in SEGMENT_BREAKS and token.i < marks[-1]]
        asked = sentence.doc[(breaks[-1] + 1 if breaks else sentence.start) : marks[-1] + 1]
        first = _first_word(asked)
        return asked if first is not None and first.tag_ not in WH_WORDS else None
    first = _first_word(sentence)
    if first is None:
        return None
    inverted = first.tag_ == "MD" or first.lemma_.lower() in QUESTION_OPENERS and first.pos_ in ("AUX", "VERB")
    asks = inverted and any(token.dep_ in SUBJECTS and token.i > first.i for token in sentence)
    return sentence if asks else None


def _clause_moods(clause: Token) -> Iterator[str]:
    if _is_hypothetical(clause):
        yield HYPOTHETICAL
    if _is_negated(clause):
        yield NEGATED
    if _is_about_someone_else(clause):
        yield OTHER_PERSON


def _span(tokens: list[Token]) -> tuple[int, int]:
    return min(token.idx for token in tokens), max(token.idx + len(token) for token in tokens)


def _segments(doc: Doc) -> list[int]:
    """For each token, the number of the stretch between commas (semicolons, dashes) it lies in."""
    numbers, number = [], 0
    for token in doc:
        numbers.append(number)
        number += token.is_sent_end or token.text in SEGMENT_BREAKS
    return numbers


def moods(doc: Doc) -> list[tuple[int, int, str]]:
    """(start, end, mood) of every marked clause or question, in the order of the text. A clause spans
    its subtree within its stretch between commas: the parser often hangs a comma-spliced statement
    under the next clause ("the oncologist wants to operate, what if ..."), which is not marked by it."""
    marked: set[tuple[int, int, str]] = set()
    for sentence in doc.sents:
        asked = _yes_no_question(sentence)
        if asked is not None:
            marked.add((*_span(list(asked)), QUESTION))
    segment = _segments(doc)
    for token in doc:
        if _is_clause_head(token):
            clause = [word for word in token.subtree if segment[word.i] == segment[token.i] and not word.is_punct]
            for mood in _clause_moods(token):
                marked.add((*_span(clause or [token]), mood))
    return sorted(marked)


# SpacyNLP loads the spaCy pipeline with its parser disabled (Rasa does not need it); this component
# takes the loaded pipeline from SpacyNLP and runs just the parser, on a copy of the message's doc (the
# tagger's and tok2vec's work is reused; the doc other components see stays as it was).
@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False, model_from="SpacyNLP")
class MessageMood(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageMood:
        return cls()

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        parser = model.model.get_pipe("parser")  # KeyError: a spaCy pipeline without a parser cannot tell moods
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None or not len(doc):
                continue
            entities = [entity for entity in message.get(ENTITIES) or [] if entity.get("entity") != MOOD_ENTITY]
            entities += [
                {
                    "entity": MOOD_ENTITY,
                    "value": mood,
                    "start": start,
                    "end": end,
                    "confidence": 1.0,
                    "extractor": type(self).__name__,
                }
                for start, end, mood in moods(parser(doc.copy()))
            ]
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

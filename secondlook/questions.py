"""The question list for the second-opinion appointment: the user's situation (kind of specialist,
proposed treatment, whether the opinions differ) and the questions of content/questions.yml that fit it.

Plain functions, testable without Rasa: the situation is read from what the user said about themselves
(message texts, intents, entities outside what-ifs, questions, negations and other people's stories:
secondlook/facts.py) and from their explicit answers; the list is only ever reviewed text from the bank.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from secondlook.content import load_yaml
from secondlook.facts import asserted, asserted_text, fact_of, said_plainly
from secondlook.paths import CONTENT_DIR
from secondlook.specialties import specialty_entries

SITUATION_KEYS = ("specialty", "treatment", "opinion")
ANY_SPECIALTY = "other"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Question:
    section: str
    text: str
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def fits(self, situation: Mapping[str, str]) -> bool:
        return all(situation.get(key) in values for key, values in self.when.items())


@dataclass(frozen=True)
class QuestionBank:
    questions: tuple[Question, ...]
    sections: tuple[tuple[str, str], ...]
    asks: Mapping[str, str]
    options: Mapping[str, tuple[Option, ...]]
    treatment_cues: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, Mapping[str, str]]
    specialties: Mapping[str, str]  # every name and synonym (lower case) -> the specialty's name

    def is_valid(self, key: str, value: str | None) -> bool:
        if not value:
            return False
        if key == "specialty":
            return value == ANY_SPECIALTY or value in self.specialties.values()
        return value in {option.value for option in self.options[key]}

    def for_situation(self, situation: Mapping[str, str]) -> list[tuple[str, list[str]]]:
        """The fitting questions, grouped by section title, sections in the bank's order."""
        grouped: list[tuple[str, list[str]]] = []
        for section_id, title in self.sections:
            texts = [q.text for q in self.questions if q.section == section_id and q.fits(situation)]
            if texts:
                grouped.append((title, texts))
        return grouped

    def describe(self, situation: Mapping[str, str]) -> str:
        """The situation in words, e.g. "cardiology; surgery or a procedure was proposed"."""
        parts = []
        for key in SITUATION_KEYS:
            value = situation.get(key)
            if value:
                parts.append(self.labels.get(key, {}).get(value, value))
        return "; ".join(parts)


def parse_question_bank(data: dict, specialties: Iterable[dict]) -> QuestionBank:
    situation = data["situation"]
    names: dict[str, str] = {}
    for item in specialties:
        for word in [item["name"], *item.get("synonyms", [])]:
            names[word.lower()] = item["name"]
    questions = tuple(
        Question(
            section=raw["section"],
            text=" ".join(raw["text"].split()),
            when={key: tuple(values) for key, values in (raw.get("when") or {}).items()},
        )
        for raw in data["questions"]
    )
    sections = tuple((raw["id"], raw["title"]) for raw in data["sections"])
    unknown = {q.section for q in questions} - {section_id for section_id, _ in sections}
    if unknown:
        raise ValueError(f"questions name unknown sections: {sorted(unknown)}")
    return QuestionBank(
        questions=questions,
        sections=sections,
        asks={key: situation[key]["ask"] for key in SITUATION_KEYS},
        options={
            key: tuple(Option(str(o["value"]), o["label"]) for o in situation[key]["options"]) for key in SITUATION_KEYS
        },
        treatment_cues={value: tuple(words) for value, words in situation["treatment"]["cues"].items()},
        labels=data.get("labels", {}),
        specialties=names,
    )


@cache
def load_question_bank(path: Path = CONTENT_DIR / "questions.yml") -> QuestionBank:
    return parse_question_bank(load_yaml(path), specialty_entries())


def _words_pattern(words: Iterable[str]) -> re.Pattern:
    alternatives = sorted((re.escape(word) for word in words), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(alternatives) + r")\b", re.IGNORECASE)


def _last_match(pattern: re.Pattern, texts: Iterable[str]) -> str | None:
    found = None
    for text in texts:
        for match in pattern.finditer(text or ""):
            found = match.group(1).lower()
    return found


def infer_situation(bank: QuestionBank, user_events: list[dict]) -> dict[str, str]:
    """What the user's messages already tell about them: the specialist named (an entity, else a known
    word), a treatment or surgery mentioned, and whether they said the second opinion differs or agrees.
    Only what they asserted counts ("what if they operate?" proposes no surgery); the latest mention wins."""
    situation: dict[str, str] = {}
    texts = [asserted_text(event.get("parse_data") or {}, event.get("text") or "") for event in user_events]
    # "surgery" names a specialty and a proposed treatment alike: as a word, it counts as the latter.
    cues = {cue for words in bank.treatment_cues.values() for cue in words}
    for event in user_events:
        parse = event.get("parse_data") or {}
        for entity in parse.get("entities") or []:
            named = entity.get("entity") in ("specialty", "prep_specialty")
            typed = str(entity.get("text") or entity.get("value") or "").lower()
            said = asserted(parse, entity.get("start"), entity.get("end"))
            if named and said and typed not in cues and bank.is_valid("specialty", entity.get("value")):
                situation["specialty"] = entity["value"]
        fact = fact_of(parse)
        if fact and said_plainly(parse):
            key, value = fact
            situation[key] = value
    if "specialty" not in situation:
        word = _last_match(_words_pattern(name for name in bank.specialties if name not in cues), texts)
        if word:
            situation["specialty"] = bank.specialties[word]
    for value in ("treatment", "surgery"):  # surgery is the more specific answer: it wins
        if _last_match(_words_pattern(bank.treatment_cues[value]), texts):
            situation["treatment"] = value
    return situation


def missing_key(situation: Mapping[str, str]) -> str | None:
    return next((key for key in SITUATION_KEYS if not situation.get(key)), None)


def question_list_text(bank: QuestionBank, situation: Mapping[str, str], own: list[str]) -> str:
    """The list as one message: numbered, grouped by section, the user's own questions last."""
    lines = []
    number = 0
    for title, texts in bank.for_situation(situation):
        lines.append(f"\n{title}:")
        for text in texts:
            number += 1
            lines.append(f"{number}. {text}")
    if own:
        lines.append("\nYour own questions:")
        for text in own:
            number += 1
            lines.append(f"{number}. {text}")
    return "\n".join(lines).strip()

"""Articles that agree with the word after them, in every text assembled from pieces."""

import re

import pytest

from secondlook.journey import STEP_IDS
from secondlook.paths import PROJECT_ROOT
from secondlook.situation import Situation, situation_notes
from secondlook.specialties import specialty_entries
from secondlook.wording import article, with_article

ARTICLE_THEN_WORD = re.compile(r"\b([Aa]n?) ([A-Za-z][\w-]*)")


@pytest.mark.parametrize(
    "phrase,expected",
    [
        ("oncology", "an oncology"),
        ("cardiology", "a cardiology"),
        ("orthopedic specialist", "an orthopedic specialist"),
        ("endocrinologist", "an endocrinologist"),
        ("urologist", "a urologist"),
        ("ultrasound", "an ultrasound"),
        ("hour", "an hour"),
        ("MRI", "an MRI"),
        ("GP", "a GP"),
        ("primary care doctor", "a primary care doctor"),
    ],
)
def test_the_article_follows_the_sound(phrase, expected):
    assert with_article(phrase) == expected


def _mismatched_articles(text: str) -> list[str]:
    return [f"{used} {word}" for used, word in ARTICLE_THEN_WORD.findall(text) if used.lower() != article(word)]


@pytest.mark.parametrize("step_id", STEP_IDS)
def test_every_specialty_note_agrees_with_its_article(step_id):
    for entry in specialty_entries():
        situation = Situation(specialty=entry["name"], just_named=frozenset({"specialty"}))
        for note in situation_notes(step_id, situation, entering_step=True):
            assert not _mismatched_articles(note), note


def test_an_oncology_question():
    situation = Situation(specialty="oncology", just_named=frozenset({"specialty"}))
    [note] = situation_notes("ask_doctor", situation, entering_step=True)
    assert "With an oncology question" in note
    situation = Situation(specialty="cardiology", just_named=frozenset({"specialty"}))
    [note] = situation_notes("outside_network", situation, entering_step=True)
    assert "Look for a cardiologist" in note
    situation = Situation(specialty="endocrinology", just_named=frozenset({"specialty"}))
    [note] = situation_notes("outside_network", situation, entering_step=True)
    assert "Look for an endocrinologist" in note


def test_no_text_puts_a_fixed_article_before_a_placeholder():
    """ "a {specialty}" cannot agree with every value: the texts use {a_specialty} and the like."""
    fixed = re.compile(r"\b[Aa]n? \{[a-z_]+\}")
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}"
        for folder in ("content", "secondlook", "actions")
        for path in sorted((PROJECT_ROOT / folder).rglob("*"))
        if path.suffix in (".yml", ".py") and "crisis" not in path.name
        for match in fixed.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []

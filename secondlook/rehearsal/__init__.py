"""Rehearsal engine: the user practises talking to their doctor about a second opinion.

The bot plays the doctor (supportive, rushed or defensive) in one of three scenarios, reads each line
the user would say, tags it with the fixed assessment vocabulary (the rehearsal tags of the contract,
listed in model.TAGS), moves the doctor's tension up or down, answers in character and adds one or two
sentences of coaching grounded in the journey's advice (content/journey.yml).

- model.py: scenarios, temperaments, tags and the state kept in a slot
- parsing.py: the spaCy pipeline and chat-text normalisation
- patterns.py: the word lists and matcher patterns, as data in content/rehearsal_patterns.yml
- assessment.py: the tag rules (what makes a line accusatory, an announcement, ...) and assess_line
- doctor.py: the doctor's turn (tension, which reply); coaching.py: the coaching, summary and script
- texts.py: the reviewed texts of content/rehearsal.yml; the package never generates sentences
- scoring.py: per-tag tallies and micro-F1 of the tagger on labelled lines (the gates)

No Rasa imports, so it can be tested on its own.
"""

from secondlook.rehearsal.assessment import assess_line
from secondlook.rehearsal.coaching import next_temperament, summary
from secondlook.rehearsal.doctor import opening_line, start, take_turn
from secondlook.rehearsal.model import (
    MAX_TURNS,
    SCENARIOS,
    SITUATIONS,
    TAGS,
    TEMPERAMENTS,
    LineAssessment,
    RehearsalState,
    TurnResult,
)
from secondlook.rehearsal.parsing import load_nlp
from secondlook.rehearsal.texts import scenario_practise, scenario_title, temperament_in_sentence, temperament_title

__all__ = [
    "MAX_TURNS",
    "SCENARIOS",
    "SITUATIONS",
    "TAGS",
    "TEMPERAMENTS",
    "LineAssessment",
    "RehearsalState",
    "TurnResult",
    "assess_line",
    "load_nlp",
    "next_temperament",
    "opening_line",
    "scenario_practise",
    "scenario_title",
    "start",
    "summary",
    "take_turn",
    "temperament_in_sentence",
    "temperament_title",
]

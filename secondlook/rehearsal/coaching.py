"""The coaching after each line and the end-of-rehearsal summary with a script to take along, built from
reviewed pieces of content/rehearsal.yml grounded in the journey's advice."""

from __future__ import annotations

from secondlook.rehearsal.model import GOOD_TAGS, KEY_TAGS, TEMPERAMENTS, LineAssessment, RehearsalState
from secondlook.rehearsal.texts import pick, rehearsal_texts, temperament_in_sentence


def coaching(assessment: LineAssessment, state: RehearsalState, reached: bool, variant: int) -> str:
    texts = rehearsal_texts()["coaching"]
    tags = set(assessment.tags)
    better = texts["try"].format(phrasing=pick(texts["better"][state.scenario], variant))
    for problem in ("accusatory", "announces"):
        if problem in tags:
            return f"{pick(texts['change'][problem], variant)} {better}"
    good = [tag for tag in (*KEY_TAGS[state.scenario], *GOOD_TAGS) if tag in tags]
    if not good:
        return f"{pick(texts['change']['none'], variant)} {better}"
    first = pick(texts["worked"][good[0]], variant)
    if reached:
        return f"{first} {pick(texts['reached'], variant)}"
    used_before = {tag for turn in state.turns for tag in turn}
    missing = [tag for tag in KEY_TAGS[state.scenario] if tag not in tags and tag not in used_before]
    if missing:
        return f"{first} {pick(texts['missing'][missing[0]], variant)}"
    if assessment.hedged:
        return f"{first} {pick(texts['worked']['hedged'], variant)}"
    return first


# The whole end-of-rehearsal summary, across its messages, like every default reply of the assistant.
MAX_SUMMARY_WORDS = 80


def next_temperament(temperament: str) -> str:
    """The kind of doctor to try next: a step tougher, wrapping round to the supportive one."""
    return TEMPERAMENTS[(TEMPERAMENTS.index(temperament) + 1) % len(TEMPERAMENTS)]


def summary(state: RehearsalState) -> list[str]:
    """End-of-rehearsal messages: what went well, what to practise, a script, and another go."""
    texts = rehearsal_texts()["summary"]
    used = {tag for turn in state.turns for tag in turn}
    # The scenario's own skills come first: only two points fit in a chat-sized message.
    ranked = list(dict.fromkeys((*KEY_TAGS[state.scenario], *GOOD_TAGS)))
    did_well = [pick(texts["did_well"][tag], 0) for tag in ranked if tag in used] or [
        pick(texts["did_well"]["nothing"], 0)
    ]
    practise = [pick(texts["practise"][tag], 0) for tag in ("accusatory", "announces") if tag in used]
    practise += [pick(texts["practise"][tag], 0) for tag in KEY_TAGS[state.scenario] if tag not in used]
    if not practise:
        practise = [pick(texts["practise"]["nothing"], 0)]
    script = _script(state.scenario, used)
    offer = texts["offer"].strip().format(temperament=temperament_in_sentence(next_temperament(state.temperament)))
    did_well, practise = did_well[:2], practise[:2]

    def messages() -> list[str]:
        return [
            " ".join([texts["did_well"]["intro"].strip(), *did_well]),
            " ".join([texts["practise"]["intro"].strip(), *practise]),
            script,
            offer,
        ]

    # Chat-sized as a whole too: a second point of praise goes first, then a second thing to practise.
    for points in (did_well, practise):
        if len(points) > 1 and _words(messages()) > MAX_SUMMARY_WORDS:
            points.pop()
    return messages()


def _words(messages: list[str]) -> int:
    return sum(len(message.split()) for message in messages)


def _script(scenario: str, used: set[str]) -> str:
    """A short script from reviewed pieces: a reassurance first if they accused or announced, then the
    scenario's pieces in a natural order."""
    texts = rehearsal_texts()["summary"]["script"]
    missed = [tag for tag in KEY_TAGS[scenario] if tag not in used]
    pieces = [texts["pieces"]["reassure"]] if used & {"accusatory", "announces"} else []
    pieces += [texts["pieces"][tag] for tag in texts["order"][scenario]]
    intro = texts["intro_missed"] if missed else texts["intro_complete"]
    return f"{intro.strip()} “{' '.join(piece.strip() for piece in pieces)}”"

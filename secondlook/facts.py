"""Which of the user's words state a fact about their own situation, and the one question that confirms
a fact they did not state plainly.

The NLU marks every clause that is a what-if, a yes/no question, a negation or someone else's story with
a `mood` entity (pipeline/message_mood.py). A fact for the question list, the letters or the summary is
read only from words no such entity covers; a message about the second opinion said any other way gets
one yes/no question (action_confirm_situation), and only "yes" notes it (action_answer_yes_no).
"""

from collections.abc import Mapping

from secondlook.content import content

MOOD_ENTITY = "mood"
# The intents that name a fact of the situation, as (situation key, value) of content/questions.yml.
FACT_INTENTS = {"opinions_differ": ("opinion", "differs"), "opinions_agree": ("opinion", "agrees")}
# The value of the awaiting_answer slot while the confirming question is open: "confirm_fact:opinion=differs".
CONFIRM_FACT = "confirm_fact:"


def fact_texts() -> dict:
    return content("facts.yml")


def _moods(parse_data: Mapping) -> list[dict]:
    return [entity for entity in parse_data.get("entities") or [] if entity.get("entity") == MOOD_ENTITY]


def said_plainly(parse_data: Mapping) -> bool:
    """Whether nothing in the message was marked as a what-if, question, negation or someone else's."""
    return not _moods(parse_data)


def asserted(parse_data: Mapping, start: int | None, end: int | None) -> bool:
    """Whether the characters start..end of the message lie outside every marked clause (a span without
    offsets, such as a button's entity, is asserted)."""
    if start is None or end is None:
        return True
    return not any(mood["start"] < end and start < mood["end"] for mood in _moods(parse_data))


def asserted_text(parse_data: Mapping, text: str) -> str:
    """The message with its marked clauses blanked out (offsets kept)."""
    kept = list(text)
    for mood in _moods(parse_data):
        for index in range(max(mood["start"], 0), min(mood["end"], len(kept))):
            kept[index] = " "
    return "".join(kept)


def fact_of(parse_data: Mapping) -> tuple[str, str] | None:
    """The situation fact the message is about, e.g. ("opinion", "differs"), whether or not it states it."""
    return FACT_INTENTS.get((parse_data.get("intent") or {}).get("name"))


def fact_question(key: str, value: str) -> str:
    return fact_texts()["confirm"][key][value]


def question_slot_value(key: str, value: str) -> str:
    return f"{CONFIRM_FACT}{key}={value}"


def pending_fact(question: str | None) -> tuple[str, str] | None:
    """The fact an open confirming question is about (None for other questions)."""
    if not question or not question.startswith(CONFIRM_FACT):
        return None
    key, _, value = question.removeprefix(CONFIRM_FACT).partition("=")
    return (key, value) if key and value else None

"""A question is not a fact (secondlook/facts.py): the NLU marks what-ifs, questions, negations and other people's
stories (pipeline/message_mood.py, on the project's real spaCy pipeline); the question list, letters and
summary take only what the user asserted or confirmed with one question (secondlook/facts.py and the
actions, with real Rasa SDK objects and a throw-away progress store)."""

import time
from datetime import date

import pytest
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk.events import SlotSet

from actions.journey_actions import ActionAnswerYesNo
from actions.preparation_actions import ActionConfirmSituation, ActionPrepareQuestions, ActionWriteLetter
from pipeline.message_mood import MessageMood
from secondlook.facts import fact_question, fact_texts
from secondlook.paths import PROJECT_ROOT
from secondlook.questions import infer_situation, load_question_bank
from secondlook.summary import summary_for_key, to_markdown
from tests.conftest import make_tracker, payloads, texts

BANK = load_question_bank()
DIFFERS = BANK.labels["opinion"]["differs"]  # "the second opinion differs from the first"
SURGERY = BANK.labels["treatment"]["surgery"]
WHAT_IF = "What if the new doctor tells me something totally different?"
PLAIN = "the second opinion came back different"
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def nlp() -> SpacyNLP:
    """The project's spaCy pipeline as Rasa's SpacyNLP loads it (without its parser)."""
    config = {**SpacyNLP.get_default_config(), "model": str(PROJECT_ROOT / "build" / "spacy" / "en_secondlook")}
    return SpacyNLP.create(config, None, None, None)


def marked(nlp: SpacyNLP, text: str, entities: list | None = None) -> list[dict]:
    """The message's entities after SpacyNLP and the component ran, as in Rasa's pipeline."""
    message = Message({TEXT: text, ENTITIES: list(entities or [])})
    model = nlp.provide()
    nlp.process([message], model)
    return MessageMood().process([message], model)[0].get(ENTITIES)


def moods(nlp, text: str) -> set[str]:
    return {entity["value"] for entity in marked(nlp, text) if entity["entity"] == "mood"}


def parsed(nlp, text: str, intent: str, entities: list | None = None) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": marked(nlp, text, entities)}


def user_event(parse_data: dict) -> dict:
    return {"event": "user", "timestamp": time.time(), "text": parse_data["text"], "parse_data": parse_data}


def conversation(*parses: dict, then: tuple[str, str] = ("request_letter", "write the referral letter")) -> dict:
    """Tracker arguments: the given messages, then one more (intent, text) as the latest."""
    intent, text = then
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return {"text": text, "events": [user_event(parse) for parse in [*parses, latest]]}


# --- the component -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WHAT_IF, "hypothetical"),
        ("if the second doctor says something different, what do I do?", "hypothetical"),
        ("could it happen that the second opinion is different?", "hypothetical"),
        ("I'm scared the second doctor disagrees with my first one", "hypothetical"),
        ("the new doctor might say something else", "hypothetical"),
        ("Suppose the second doctor says I need surgery", "hypothetical"),
        ("in case the second doctor disagrees, what should I do?", "hypothetical"),
        ("what happens when the second opinion is different?", "hypothetical"),
        ("is it normal for doctors to refuse?", "question"),
        ("the second opinion was different?", "question"),
        ("Do second opinions often disagree with the first?", "question"),
        ("my doctor didn't refuse, he just hasn't answered", "negated"),
        ("The second opinion didn't differ at all", "negated"),
        ("my friend's surgeon refused to refer her", "other_person"),
        ("my sister's second opinion was totally different", "other_person"),
        ("my mum had a second opinion and it disagreed", "other_person"),
        ("a friend of mine got a completely different second opinion", "other_person"),
        ("they want to operate on my mother", "other_person"),
    ],
)
def test_what_is_not_a_fact_about_the_user_is_marked(nlp, text, expected):
    assert expected in moods(nlp, text)


@pytest.mark.parametrize(
    "text",
    [
        PLAIN,
        "the second doctor says it's something completely different",
        "the second cardiologist thinks it's not heart failure at all",
        "I went for a second opinion last week and the new doctor disagreed with my diagnosis",
        "The second opinion differs, what should I do?",
        "I got the second opinion and it's different. What now?",
        "what questions should I ask the oncologist about the surgery they proposed?",
        "the oncologist wants to operate next month",
        "I asked her for a referral and she refused",
    ],
)
def test_what_the_user_says_plainly_is_not_marked(nlp, text):
    assert moods(nlp, text) == set()


def test_a_mood_spans_its_clause_and_keeps_the_other_entities(nlp):
    text = "My oncologist wants to operate, but what if the second doctor disagrees?"
    start = text.index("oncologist")
    specialty = {"entity": "specialty", "value": "oncology", "start": start, "end": start + len("oncologist")}
    entities = marked(nlp, text, [specialty])
    assert entities[0] == specialty
    [mood] = [entity for entity in entities if entity["entity"] == "mood"]
    assert mood["value"] == "hypothetical" and mood["extractor"] == "MessageMood"
    assert "if the second doctor disagrees" in text[mood["start"] : mood["end"]]
    assert mood["start"] > text.index("operate")


# --- what the question list takes from the conversation ------------------------------------------


def test_only_what_the_user_asserted_becomes_their_situation(nlp):
    said = [
        parsed(nlp, WHAT_IF, "opinions_differ"),
        parsed(nlp, "what if they want to operate?", "ask_second_opinion_worth"),
        parsed(nlp, "my friend's cardiologist refused to refer her", "doctor_refuses"),
        parsed(nlp, "The second opinion didn't differ at all", "opinions_differ"),
        parsed(nlp, "is it normal that the second opinion agrees?", "opinions_agree"),
    ]
    assert infer_situation(BANK, [user_event(parse) for parse in said]) == {}

    plainly = [parsed(nlp, "the oncologist wants to operate, what if the second doctor disagrees?", "opinions_differ")]
    assert infer_situation(BANK, [user_event(parse) for parse in plainly]) == {
        "specialty": "oncology",
        "treatment": "surgery",
    }
    assert infer_situation(BANK, [user_event(parsed(nlp, PLAIN, "opinions_differ"))]) == {"opinion": "differs"}


# --- the confirming question ---------------------------------------------------------------------


async def test_a_what_if_about_the_second_opinion_gets_one_yes_no_question(nlp, dispatcher, domain, store):
    tracker = make_tracker("opinions_differ", text=WHAT_IF, entities=marked(nlp, WHAT_IF))
    events = await ActionConfirmSituation().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [fact_question("opinion", "differs")]
    assert payloads(dispatcher) == ["/affirm", "/deny"]
    assert events == [SlotSet("awaiting_answer", "confirm_fact:opinion=differs")]
    assert store.preparation("user-1") == {}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my sister's second opinion was totally different", "opinions_differ"),
        ("The second opinion didn't differ at all", "opinions_differ"),
        ("do second opinions usually agree with the first?", "opinions_agree"),
    ],
)
async def test_negations_questions_and_other_peoples_stories_are_asked_too(
    nlp, text, intent, dispatcher, domain, store
):
    events = await ActionConfirmSituation().run(
        dispatcher, make_tracker(intent, text=text, entities=marked(nlp, text)), domain
    )
    assert len(texts(dispatcher)) == 1 and events[0]["name"] == "awaiting_answer"


async def test_a_plain_statement_or_a_known_fact_is_not_asked_again(nlp, dispatcher, domain, store):
    plain = make_tracker("opinions_differ", text=PLAIN, entities=marked(nlp, PLAIN))
    assert await ActionConfirmSituation().run(dispatcher, plain, domain) == []
    store.save_preparation("user-1", {"opinion": "differs"})
    tentative = make_tracker("opinions_differ", text=WHAT_IF, entities=marked(nlp, WHAT_IF))
    assert await ActionConfirmSituation().run(dispatcher, tentative, domain) == []
    assert texts(dispatcher) == []


def answer_tracker(intent: str, *, asked_last: bool = True):
    """The user's yes or no after action_confirm_situation asked (or after something else, if not)."""
    events = [
        {"event": "user", "text": WHAT_IF, "parse_data": {"intent": {"name": "opinions_differ"}}},
        {"event": "action", "name": "action_give_step_advice"},
        {"event": "action", "name": "action_confirm_situation"},
        {"event": "slot", "name": "awaiting_answer", "value": "confirm_fact:opinion=differs"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "yes", "parse_data": {"intent": {"name": intent}}},
    ]
    if not asked_last:
        events[3:3] = [{"event": "action", "name": "action_show_progress"}]
    return make_tracker(intent, text="yes", slots={"awaiting_answer": "confirm_fact:opinion=differs"}, events=events)


async def test_yes_notes_the_fact_and_no_notes_nothing(dispatcher, domain, store):
    events = await ActionAnswerYesNo().run(dispatcher, answer_tracker("deny"), domain)
    assert events == [SlotSet("awaiting_answer", None)]
    assert texts(dispatcher) == [fact_texts()["not_noted"]]
    assert store.preparation("user-1") == {}

    dispatcher.messages.clear()
    store.save_preparation("user-1", {"specialty": "cardiology"})
    await ActionAnswerYesNo().run(dispatcher, answer_tracker("affirm"), domain)
    assert store.preparation("user-1") == {"specialty": "cardiology", "opinion": "differs"}
    assert texts(dispatcher) == [fact_texts()["noted"].format(fact=DIFFERS)]


async def test_a_yes_to_a_question_no_longer_open_notes_nothing(dispatcher, domain, store):
    await ActionAnswerYesNo().run(dispatcher, answer_tracker("affirm", asked_last=False), domain)
    assert store.preparation("user-1") == {}
    assert texts(dispatcher) == ["Okay. What would you like to do next?"]


# --- letters, the question list and the summary --------------------------------------------------


async def test_a_what_if_never_reaches_the_letter_or_the_summary(nlp, dispatcher, domain, store):
    said = conversation(
        parsed(nlp, WHAT_IF, "opinions_differ"), parsed(nlp, "what if they operate?", "doubt_diagnosis")
    )
    await ActionWriteLetter().run(dispatcher, make_tracker("request_letter", entities=[referral()], **said), domain)
    letter = texts(dispatcher)[1]
    assert "My situation: [where things stand]." in letter
    assert DIFFERS not in letter and SURGERY not in letter

    dispatcher.messages.clear()
    await ActionPrepareQuestions().run(dispatcher, make_tracker("prepare_questions", **said), domain)
    assert texts(dispatcher) == [BANK.asks["specialty"]]
    assert store.preparation("user-1") == {}
    assert DIFFERS not in to_markdown(summary_for_key(store, store.user_key("user-1"), "en-US", TODAY)).lower()


async def test_a_plain_statement_reaches_the_letter_and_the_summary(nlp, dispatcher, domain, store):
    said = conversation(parsed(nlp, PLAIN, "opinions_differ"))
    await ActionWriteLetter().run(dispatcher, make_tracker("request_letter", entities=[referral()], **said), domain)
    assert f"My situation: {DIFFERS}." in texts(dispatcher)[1]
    await ActionPrepareQuestions().run(dispatcher, make_tracker("prepare_questions", **said), domain)
    assert store.preparation("user-1") == {"opinion": "differs"}
    assert DIFFERS in to_markdown(summary_for_key(store, store.user_key("user-1"), "en-US", TODAY))


async def test_a_confirmed_what_if_reaches_the_letter(nlp, dispatcher, domain, store):
    await ActionAnswerYesNo().run(dispatcher, answer_tracker("affirm"), domain)
    said = conversation(parsed(nlp, WHAT_IF, "opinions_differ"))
    dispatcher.messages.clear()
    await ActionWriteLetter().run(dispatcher, make_tracker("request_letter", entities=[referral()], **said), domain)
    assert f"My situation: {DIFFERS}." in texts(dispatcher)[1]


def referral() -> dict:
    return {"entity": "letter_kind", "value": "referral"}

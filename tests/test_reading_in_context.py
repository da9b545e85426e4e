"""A message the NLU is unsure of, right after a step's advice, is read as a reply to that advice when the
NLU leans that way (actions/fallback_actions.py): reverted and uttered again with that intent, so Rasa's
rules answer it; anywhere else, or when the reading is unsure too, the clarifying question."""

import time

import pytest
import yaml

from actions.conversation import last_bot_action
from actions.fallback_actions import (
    REPLIES_TO_ADVICE,
    REREAD_THRESHOLD,
    ActionClarifyIntent,
    reply_in_context,
)
from secondlook.paths import PROJECT_ROOT
from tests.conftest import make_tracker, texts

# "found a specialist through a friend and asked for my records": unsure between reporting it and asking
# how to find someone or get records; a reply leads, but under the NLU's threshold.
REPORT_LEANING = [
    {"name": "nlu_fallback", "confidence": 0.3},
    {"name": "report_progress", "confidence": 0.22},
    {"name": "ask_records", "confidence": 0.20},
    {"name": "ask_find_specialist", "confidence": 0.15},
    {"name": "out_of_scope", "confidence": 0.15},
    {"name": "request_letter", "confidence": 0.05},
]
# A question about another step, which only an unsure NLU would take for a reply.
QUESTION_LEANING = [
    {"name": "nlu_fallback", "confidence": 0.3},
    {"name": "ask_find_specialist", "confidence": 0.45},
    {"name": "ask_records", "confidence": 0.25},
    {"name": "report_progress", "confidence": 0.1},
]


def _user(intent: str, text: str, ranking: list[dict] | None = None, entities: list[dict] | None = None) -> dict:
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.3},
        "entities": entities or [],
        "intent_ranking": ranking or [],
    }
    return {"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse}


def _after_advice(ranking: list[dict], last_action: str = "action_give_step_advice", entities=None):
    text = "got a name from a friend and asked for my records"
    events = [
        {"event": "session_started"},
        _user("ask_find_specialist", "how do i find someone outside my hospital"),
        {"event": "action", "name": last_action},
        {"event": "action", "name": "action_listen"},
        _user("nlu_fallback", text, ranking, entities),
        {"event": "slot", "name": "specialty", "value": "hepatology"},
    ]
    return make_tracker(
        "nlu_fallback",
        text=text,
        intent_ranking=ranking,
        entities=entities,
        slots={"current_step": "outside_network"},
        events=events,
    )


def test_a_reply_the_nlu_leans_to_is_read_where_the_rest_is_spread_thin():
    assert reply_in_context(REPORT_LEANING) == "report_progress"
    assert reply_in_context(QUESTION_LEANING) is None
    # Doubling a reply's weight is not enough when it is far behind.
    assert reply_in_context([{"name": "out_of_scope", "confidence": 0.8}, {"name": "deny", "confidence": 0.15}]) is None
    assert reply_in_context([{"name": "nlu_fallback", "confidence": 1.0}]) is None
    assert reply_in_context([]) is None


def test_the_reading_uses_the_nlus_own_fallback_threshold():
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    fallback = next(step for step in config["pipeline"] if step["name"].endswith("StepFallbackClassifier"))
    assert fallback["threshold"] == REREAD_THRESHOLD
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["intents"]) >= REPLIES_TO_ADVICE


async def test_right_after_advice_the_message_is_uttered_again_as_the_reply(dispatcher, domain):
    events = await ActionClarifyIntent().run(dispatcher, _after_advice(REPORT_LEANING), domain)
    assert dispatcher.messages == []  # no clarifying question: the rules answer the reply
    assert [event["event"] for event in events] == ["rewind", "action", "user", "slot"]
    assert events[1]["name"] == "action_listen"
    again = events[2]
    assert again["text"] == "got a name from a friend and asked for my records"
    assert again["parse_data"]["intent"] == {"name": "report_progress", "confidence": 0.22}
    assert again["parse_data"]["intent_ranking"] == REPORT_LEANING  # kept for the second-topic button
    # The slots the message's entities filled were reverted with it, so they are filled again.
    assert events[3] == {
        "event": "slot",
        "timestamp": None,
        "name": "specialty",
        "value": "hepatology",
    }


@pytest.mark.parametrize("last_action", ["action_report_progress", "action_greet", "utter_out_of_scope"])
async def test_anywhere_else_an_unsure_message_gets_the_clarifying_question(last_action, dispatcher, domain):
    events = await ActionClarifyIntent().run(dispatcher, _after_advice(REPORT_LEANING, last_action), domain)
    assert events == []
    assert texts(dispatcher) and dispatcher.messages[0]["buttons"]


async def test_an_unsure_reading_after_advice_still_asks(dispatcher, domain):
    assert await ActionClarifyIntent().run(dispatcher, _after_advice(QUESTION_LEANING), domain) == []
    assert texts(dispatcher)


def test_the_last_bot_action_skips_a_message_read_again():
    events = [
        {"event": "action", "name": "action_give_step_advice"},
        {"event": "action", "name": "action_listen"},
        _user("nlu_fallback", "did it"),
        {"event": "action", "name": "action_clarify_intent"},
        {"event": "rewind"},
        {"event": "action", "name": "action_listen"},
        _user("report_progress", "did it"),
    ]
    assert last_bot_action(make_tracker("report_progress", events=events)) == "action_give_step_advice"
    # Without the rewind the clarifying action is the last thing the bot did.
    assert last_bot_action(make_tracker("report_progress", events=events[:4] + events[5:])) == ("action_clarify_intent")


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """The trained model with the project's actions run in this process, progress in a scratch database."""
    from rasa.core.agent import Agent

    from scripts.peoples_words import InProcessActions
    from secondlook.devtools.servers import trained_model

    patch = pytest.MonkeyPatch()
    patch.setenv("DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('progress') / 'progress.db'}")
    yield Agent.load(str(trained_model()), action_endpoint=InProcessActions())
    patch.undo()


async def _send(agent, sender: str, text: str, parse_data: dict | None = None) -> list[dict]:
    from rasa.core.channels import CollectingOutputChannel, UserMessage

    channel = CollectingOutputChannel()
    await agent.handle_message(UserMessage(text, channel, sender, parse_data=parse_data))
    return channel.messages


def _unsure(text: str, ranking: list[dict]) -> dict:
    # An entity as spaCy gives it (confidence None), which Rasa's check of an action's events refuses.
    date = {
        "entity": "DATE",
        "value": "monday",
        "start": 0,
        "end": 6,
        "confidence": None,
        "extractor": "SpacyDocEntities",
    }
    return {"text": text, "intent": ranking[0], "entities": [date], "intent_ranking": ranking}


async def test_through_rasa_an_unsure_report_after_advice_credits_the_step(agent):
    """Rasa's processor takes the reverted, re-uttered message and its rules answer the report: the step
    is ticked, the conversation's record shows the report, and no clarifying question was sent."""
    await _send(agent, "reread-1", "/ask_find_specialist")
    text = "monday: got a name from a friend and asked for my records"
    replies = await _send(agent, "reread-1", text, _unsure(text, REPORT_LEANING))
    tracker = await agent.processor.get_tracker("reread-1")
    assert "outside_network" in (tracker.get_slot("completed_steps") or [])
    assert tracker.latest_message.intent["name"] == "report_progress"
    assert [entity["value"] for entity in tracker.latest_message.entities] == ["monday"]
    assert tracker.latest_action_name == "action_listen"
    assert not any("Is that it?" in (reply.get("text") or "") for reply in replies)


async def test_through_rasa_the_same_message_elsewhere_gets_the_clarifying_question(agent):
    text = "got a name from a friend and asked for my records"
    replies = await _send(agent, "reread-2", text, _unsure(text, REPORT_LEANING))
    tracker = await agent.processor.get_tracker("reread-2")
    assert not tracker.get_slot("completed_steps")
    assert tracker.latest_message.intent["name"] == "nlu_fallback"
    assert any(reply.get("buttons") for reply in replies)

"""The patches of Rasa's own code check, at start, that they meet the Rasa they were written for."""

import pytest
from sanic import Blueprint

from channels import rasa_patches
from channels.rasa_patches import PATCHED, WRITTEN_FOR, Patched, RasaChanged, check


def test_the_installed_rasa_is_the_one_the_patches_were_written_for():
    for patched in PATCHED:
        check(patched)


def changed_run(self, output_channel, nlg, tracker, domain):
    return []  # another body: the code the patch wraps is not the code it was read against


@pytest.mark.parametrize("patched", PATCHED, ids=lambda patched: patched.name)
def test_a_patch_refuses_rasa_code_whose_source_differs(patched):
    with pytest.raises(RasaChanged, match="is not the code"):
        check(Patched(patched.name, lambda: changed_run, patched.sha256))


@pytest.mark.parametrize("patched", PATCHED, ids=lambda patched: patched.name)
def test_a_patch_refuses_another_rasa_version(patched):
    assert WRITTEN_FOR == "3.6.21"
    with pytest.raises(RasaChanged, match="written for Rasa 3.6.21, this is Rasa 3.7.0"):
        check(patched, version="3.7.0")


def test_a_channel_does_not_start_on_rasa_code_it_was_not_written_for(monkeypatch):
    first = PATCHED[0]
    monkeypatch.setattr(rasa_patches, "PATCHED", (Patched(first.name, lambda: changed_run, first.sha256),))
    with pytest.raises(RasaChanged):
        rasa_patches.apply(Blueprint("patch_check_test"))


REPLIES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "current_step", "value": "ask_doctor"}], "responses": [{"text": "Hi"}]},
    {"events": [{"event": "action", "name": "action_listen", "policy": None, "confidence": None}]},
    {"events": [{"event": "not_an_event"}], "responses": []},
    {"events": [{"event": "slot"}], "responses": []},  # a slot event without its name
    {"events": "everything", "responses": []},
    {"events": [], "responses": [42]},
]


@pytest.mark.parametrize("reply", REPLIES)
def test_the_compiled_reply_check_accepts_and_rejects_what_rasas_own_does(reply, monkeypatch):
    """The compiled check (install_compiled_reply_check) against Rasa's `_validate_action_result` itself:
    the same verdict on valid and broken action-server replies, and the same error."""
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("action_anything", None)

    def verdict(validate):
        try:
            return validate(action, reply), None
        except ValidationError as error:
            return False, (error.message, list(error.path))

    expected = verdict(rasa_patches._ORIGINAL_VALIDATE)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", rasa_patches._ORIGINAL_VALIDATE)
    rasa_patches.install_compiled_reply_check()
    assert RemoteAction._validate_action_result is not rasa_patches._ORIGINAL_VALIDATE
    assert verdict(RemoteAction._validate_action_result) == expected
    assert expected[0] is (reply in REPLIES[:3])


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    from secondlook.devtools.servers import trained_model

    return Agent.load(str(trained_model()))


PAYLOADS = [
    "/next_step",
    '/report_progress{"journey_step": "ask_doctor"}',
    '/report_progress{"journey_step":"move_on"}',
    "/affirm@0.7",
    "/next_step{broken json",  # Rasa's own unpacking keeps the intent and warns about the rest
    "/emergency",
    '/start_rehearsal{"rehearsal_scenario": "ask_second_opinion"}',
]
NOT_PAYLOADS = ["/not_an_intent_we_know", "/ i feel awful", "next step please"]


@pytest.mark.parametrize("text", PAYLOADS + NOT_PAYLOADS)
async def test_a_payload_parses_without_the_pipeline_exactly_as_through_it(agent, text, monkeypatch):
    """The shortcut (install_payload_shortcut) against the whole NLU graph of the trained model: the same
    parse for every payload, and text that is not a payload still goes through the pipeline."""
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import MessageProcessor

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", rasa_patches._ORIGINAL_PARSE)
    through_graph = await agent.processor.parse_message(UserMessage(text, sender_id="payload-test"))
    rasa_patches.install_payload_shortcut()
    calls = []
    graph_run = agent.processor.graph_runner.run
    monkeypatch.setattr(agent.processor.graph_runner, "run", lambda *a, **k: calls.append(1) or graph_run(*a, **k))
    shortcut = await agent.processor.parse_message(UserMessage(text, sender_id="payload-test"))
    assert shortcut == through_graph
    assert calls == ([] if text in PAYLOADS else [1])

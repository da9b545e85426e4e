"""The whole bot as a user meets it: real Rasa and action servers over HTTP, the trained model, the
SQL tracker store and the progress database. Slow (a server start is ~20 s), so one set per module."""

import uuid

import pytest
import requests

from tests.servers import API_TOKEN, BotProcesses, reply_text


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    processes = BotProcesses(tmp_path_factory.mktemp("e2e"))
    try:
        yield processes.start()
    finally:
        processes.stop()


@pytest.fixture
def sender() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def test_the_http_api_is_refused_without_the_token(bot, sender):
    bot.say(sender, "hello")
    tracker_url = f"{bot.url}/conversations/{sender}/tracker"
    assert requests.get(tracker_url, timeout=10).status_code == 401
    assert requests.get(tracker_url, params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(tracker_url, params={"token": API_TOKEN}, timeout=10).status_code == 200


def test_the_first_reply_carries_the_disclaimer_once(bot, sender):
    first = reply_text(bot.say(sender, "hi"))
    assert "not a doctor" in first and "911" in first
    second = reply_text(bot.say(sender, "what can you do?"))
    assert "not a doctor" not in second
    assert "five steps" in second


def test_the_whole_journey_from_doubt_to_an_agreeing_second_opinion(bot, sender):
    reply = reply_text(bot.say(sender, "i dont think my doctor got my diagnosis right"))
    assert "Step 1 of 5" in reply

    reply = reply_text(bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}'))
    assert "ticked off step 1" in reply

    expected_steps = ["Step 2 of 5", "Step 3 of 5", "Step 4 of 5", "Step 5 of 5"]
    for step_heading in expected_steps:
        reply = reply_text(bot.say(sender, "what's next?"))
        assert step_heading in reply

    reply = reply_text(bot.say(sender, "the second opinion agreed with my first doctor"))
    assert "Step 5 of 5" not in reply  # still on step 5: no new heading
    assert reply.strip()

    reply = reply_text(bot.say(sender, "where am i with all this?"))
    assert "✅ 1. Ask your doctor first" in reply
    assert "👉 5." in reply
    assert "1 of 5 steps done." in reply


def test_a_vague_report_is_confirmed_before_anything_is_stored(bot, sender):
    bot.say(sender, "how do i find a specialist outside my hospital")
    replies = bot.say(sender, "ok I did that now")
    assert "do you mean step 3" in reply_text(replies)
    assert replies[-1]["buttons"][0]["payload"] == '/report_progress{"journey_step":"outside_network"}'
    assert "0 of 5 steps done." in reply_text(bot.say(sender, "show my progress"))


def test_progress_is_restored_after_restart_and_server_restart(bot, sender):
    bot.say(sender, "hello")
    bot.say(sender, '/report_progress{"journey_step":"be_honest"}')
    bot.say(sender, "/restart")
    assert "✅ 2. Be honest about why" in reply_text(bot.say(sender, "show me my progress"))

    bot.stop_rasa_server()
    bot.start_rasa_server()
    reply = reply_text(bot.say(sender, "where am I?"))
    assert "✅ 2. Be honest about why" in reply
    assert "1 of 5 steps done." in reply


def test_out_of_scope_medical_questions_are_declined_with_a_way_back(bot, sender):
    replies = bot.say(sender, "how many mg of ibuprofen can i take for the pain")
    assert "can't give a diagnosis, a dose or treatment advice" in reply_text(replies)
    assert any(button["payload"] == "/help" for reply in replies for button in reply.get("buttons") or [])


def test_an_emergency_gets_the_emergency_numbers(bot, sender):
    reply = reply_text(bot.say(sender, "I have crushing chest pain right now and can't breathe"))
    assert "911" in reply


def test_forget_me_asks_first_then_erases_progress(bot, sender):
    bot.say(sender, '/report_progress{"journey_step":"ask_doctor"}')
    assert "Shall I delete everything?" in reply_text(bot.say(sender, "please delete all my data"))
    assert "deleted" in reply_text(bot.say(sender, "/affirm"))
    assert "0 of 5 steps done." in reply_text(bot.say(sender, "show my progress"))

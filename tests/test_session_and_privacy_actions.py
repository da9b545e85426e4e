"""Session start (disclaimer, progress restored), the clarifying fallback, and the user's data controls."""

from rasa_sdk.events import ActionExecuted, AllSlotsReset, SessionStarted, SlotSet

from actions.fallback_actions import ActionClarifyIntent
from actions.privacy_actions import ActionForgetMe, ActionShowMyData
from actions.session_actions import ActionSessionStart
from tests.conftest import customs, make_tracker, payloads, texts


async def test_session_start_restores_progress_and_shows_the_disclaimer(dispatcher, domain, store):
    store.mark_done("user-1", "be_honest")
    store.mark_done("user-1", "ask_doctor")
    store.set_current_step("user-1", "outside_network")
    events = await ActionSessionStart().run(dispatcher, make_tracker(events=[]), domain)
    assert events == [
        SessionStarted(),
        SlotSet("completed_steps", ["ask_doctor", "be_honest"]),
        SlotSet("current_step", "outside_network"),
        ActionExecuted("action_listen"),
    ]
    disclaimer = texts(dispatcher)[0]
    assert "not a doctor" in disclaimer and "911" in disclaimer and "988" in disclaimer


async def test_session_start_for_a_new_user_restores_nothing(dispatcher, domain, store):
    events = await ActionSessionStart().run(dispatcher, make_tracker(events=[], sender_id="new"), domain)
    assert events == [SessionStarted(), SlotSet("completed_steps", []), ActionExecuted("action_listen")]


async def test_clarify_says_what_it_understood_and_offers_close_runners_up(dispatcher, domain):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "doctor_refuses", "confidence": 0.3},
        {"name": "doctor_defensive", "confidence": 0.25},
        {"name": "greet", "confidence": 0.2},
        {"name": "ask_records", "confidence": 0.1},
        {"name": "ask_progress", "confidence": 0.01},
    ]
    await ActionClarifyIntent().run(dispatcher, make_tracker("nlu_fallback", intent_ranking=ranking), domain)
    # ask_records (0.1) is less than half as likely as the best guess: not offered
    assert payloads(dispatcher) == ["/doctor_refuses", "/doctor_defensive", "/help"]
    [text] = texts(dispatcher)
    assert text.startswith("It sounds like your doctor doesn't think you need another opinion")
    assert "Is that it, or" in text and "Did you mean" not in text


async def test_clarify_with_one_clear_guess_asks_a_yes_or_no_question(dispatcher, domain):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "opinions_differ", "confidence": 0.35},
        {"name": "opinions_agree", "confidence": 0.1},
    ]
    await ActionClarifyIntent().run(dispatcher, make_tracker("nlu_fallback", intent_ranking=ranking), domain)
    assert payloads(dispatcher) == ["/opinions_differ", "/help"]
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["Yes, that's it", "Something else"]
    assert texts(dispatcher) == [
        "It sounds like the second opinion said something different from the first. Is that it?"
    ]


async def test_an_unsure_report_right_after_a_steps_advice_offers_to_credit_that_step(dispatcher, domain):
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "report_progress", "confidence": 0.35}]
    tracker = make_tracker("nlu_fallback", intent_ranking=ranking, slots={"current_step": "ask_doctor"})
    await ActionClarifyIntent().run(dispatcher, tracker, domain)
    assert payloads(dispatcher) == ['/report_progress{"journey_step":"ask_doctor"}', "/help"]
    assert texts(dispatcher) == ["It sounds like you've done step 1, “Ask your doctor first”. Is that it?"]


async def test_an_unsure_report_for_a_step_already_done_asks_without_naming_it(dispatcher, domain):
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "report_progress", "confidence": 0.35}]
    slots = {"current_step": "ask_doctor", "completed_steps": ["ask_doctor"]}
    await ActionClarifyIntent().run(
        dispatcher, make_tracker("nlu_fallback", intent_ranking=ranking, slots=slots), domain
    )
    assert payloads(dispatcher) == ["/report_progress", "/help"]


def test_every_intent_offered_in_a_clarifying_question_has_a_sentence_for_it():
    from actions.fallback_actions import intent_labels, understood

    assert set(intent_labels()) == set(understood())
    assert all(sentence.startswith("It sounds like") and sentence.endswith(".") for sentence in understood().values())


async def test_clarify_with_nothing_likely_still_offers_a_way_out(dispatcher, domain):
    await ActionClarifyIntent().run(dispatcher, make_tracker("nlu_fallback"), domain)
    assert payloads(dispatcher) == ["/help"]


async def test_my_data_lists_progress_and_offers_the_copy_as_a_link(dispatcher, domain, store, conversations):
    store.mark_done("user-1", "ask_doctor")
    store.set_current_step("user-1", "be_honest")
    store.add_note("user-1", "specialist", "Dr Osei, teaching hospital")
    store.record_rehearsal("user-1", "ask_opinion", "rushed", 3, True)
    events = [
        {"event": "user", "timestamp": 100.0, "text": "hi"},
        {"event": "bot", "timestamp": 101.0, "text": "hello"},
    ]
    await ActionShowMyData().run(dispatcher, make_tracker("request_my_data", events=events), domain)
    [summary] = texts(dispatcher)
    assert "1 step done (“Ask your doctor first”)" in summary
    assert "the 1 message you wrote me since 1 January 1970" in summary
    assert "1 note you asked me to keep; 1 practice conversation" in summary
    assert "Dr Osei" not in summary and "user-1" not in summary  # the copy holds them, not the chat
    [export] = customs(dispatcher, "data_export")
    assert export["links"][0]["path"].endswith(".json") and export["expires_in"] == 600
    assert "document" not in export


async def test_forget_me_deletes_progress_and_resets_the_slots(dispatcher, domain, store):
    store.mark_done("user-1", "ask_doctor")
    store.mark_done("someone-else", "ask_doctor")
    events = await ActionForgetMe().run(dispatcher, make_tracker("affirm"), domain)
    assert events == [AllSlotsReset()]
    assert store.completed_steps("user-1") == []
    assert store.completed_steps("someone-else") == ["ask_doctor"]
    assert "deleted" in texts(dispatcher)[0]


async def test_forget_me_asks_the_channel_to_erase_its_copies_before_the_closing_words(dispatcher, domain, store):
    await ActionForgetMe().run(dispatcher, make_tracker("affirm"), domain)
    assert customs(dispatcher, "erase_client") == [{"type": "erase_client"}]
    kinds = ["custom" if message.get("custom") else "text" for message in dispatcher.messages]
    assert kinds == ["custom", "text"]  # the channel clears first, so the closing words stay on screen


async def test_forget_me_with_a_dead_database_erases_nothing_anywhere(dispatcher, domain, store_down):
    store_down("forget")
    events = await ActionForgetMe().run(dispatcher, make_tracker("affirm"), domain)
    assert events == [] and customs(dispatcher, "erase_client") == []
    assert "couldn't reach your saved progress" in texts(dispatcher)[0]


async def test_the_disclaimer_names_the_configured_locale_numbers(dispatcher, domain, store, monkeypatch):
    monkeypatch.setenv("SECONDLOOK_LOCALE", "en-GB")
    await ActionSessionStart().run(dispatcher, make_tracker(events=[]), domain)
    disclaimer = texts(dispatcher)[0]
    assert "999" in disclaimer and "111" in disclaimer and "116 123" in disclaimer and "911" not in disclaimer


async def test_an_unknown_locale_falls_back_to_the_default(dispatcher, domain, store, monkeypatch):
    monkeypatch.setenv("SECONDLOOK_LOCALE", "xx-XX")
    await ActionSessionStart().run(dispatcher, make_tracker(events=[]), domain)
    assert "911" in texts(dispatcher)[0]

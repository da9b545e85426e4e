"""No sentence is sent twice in a conversation, unless the user asked for the same thing again: the rule
of actions/conversation.py (ReplyingAction) over secondlook/repeats.py, in one tracker turn after turn."""

from actions.journey_actions import (
    ActionAnswerYesNo,
    ActionGiveStepAdvice,
    ActionMoreAdvice,
    ActionNextStep,
    ActionReportProgress,
    ActionShowProgress,
)
from actions.rehearsal_actions import ActionStartRehearsal
from secondlook.repeats import drop_repeats, is_sentence, key, said_for, sentences
from tests.chat import Chat, texts_of

ONCOLOGY = [{"entity": "specialty", "value": "oncology"}]
ASK_DOCTOR = [{"entity": "journey_step", "value": "ask_doctor"}]


def test_sentences_keep_quotes_and_leave_headings_alone():
    line = "You could say: “Would it help?” Then wait. Step 2 of 5: Be honest about why"
    assert sentences(line) == ["You could say: “Would it help?”", "Then wait.", "Step 2 of 5: Be honest about why"]
    assert [is_sentence(piece) for piece in sentences(line)] == [True, True, False]


def test_a_sentence_said_for_another_request_is_dropped_and_its_buttons_move_up():
    said = said_for([("doubt_diagnosis", "Ask your doctor first. It helps.")])
    reply = [
        {"text": "Pick a calm moment. It helps."},
        {"text": "Ask your doctor first.", "buttons": [{"title": "Why?", "payload": "/advice_why"}]},
    ]
    assert drop_repeats(reply, said, "ask_how_to_raise") == [
        {"text": "Pick a calm moment.", "buttons": [{"title": "Why?", "payload": "/advice_why"}]}
    ]
    assert drop_repeats(reply, said, "doubt_diagnosis") == reply  # asked again: said again


def test_a_reply_with_nothing_new_is_sent_whole_rather_than_not_at_all():
    said = said_for([("affirm", "Okay. What would you like to do next?")])
    reply = [{"text": "Okay. What would you like to do next?", "buttons": [{"title": "Help", "payload": "/help"}]}]
    assert drop_repeats(reply, said, "deny") == reply


async def _conversation(domain) -> Chat:
    chat = Chat(domain)
    text = "my oncologist says it's cancer and i'm not sure she's right"
    await chat.say("doubt_diagnosis", ActionGiveStepAdvice(), text=text, entities=ONCOLOGY)
    await chat.say("ask_how_to_raise", ActionGiveStepAdvice(), text="how do i ask my oncologist", entities=ONCOLOGY)
    await chat.say("advice_why", ActionMoreAdvice())
    await chat.say("advice_more", ActionMoreAdvice())
    await chat.say("advice_more", ActionMoreAdvice())
    await chat.say("advice_why", ActionMoreAdvice())
    await chat.say("ask_second_opinion_worth", ActionGiveStepAdvice(), entities=ONCOLOGY)
    await chat.say("report_progress", ActionReportProgress(), entities=ASK_DOCTOR)
    await chat.say("next_step", ActionNextStep())
    await chat.say("fear_offending_doctor", ActionGiveStepAdvice(), entities=ONCOLOGY)
    await chat.say("advice_more", ActionMoreAdvice())
    await chat.say("ask_progress", ActionShowProgress())
    await chat.say("affirm", ActionAnswerYesNo())
    await chat.say("next_step", ActionNextStep())
    await chat.say("ask_records", ActionGiveStepAdvice(), entities=ONCOLOGY)
    await chat.say("start_rehearsal", ActionStartRehearsal())
    return chat


async def test_no_sentence_is_sent_twice_in_a_conversation(domain, store):
    chat = await _conversation(domain)
    seen: dict[str, int] = {}
    for turn, messages in enumerate(chat.turns):
        for text in texts_of(messages):
            for line in text.splitlines():
                for piece in filter(is_sentence, sentences(line)):
                    assert key(piece) not in seen, f"turn {turn} repeats turn {seen.get(key(piece))}: {piece}"
                    seen[key(piece)] = turn
    everything = "\n".join(text for messages in chat.turns for text in texts_of(messages))
    assert everything.count("oncology question") == 1  # the specialty note, said once
    assert len(seen) > 30  # a real conversation was had


async def test_asking_for_the_same_thing_again_gets_it_again(domain, store):
    chat = Chat(domain)
    await chat.say("doubt_diagnosis", ActionGiveStepAdvice(), entities=ONCOLOGY)
    first = await chat.say("advice_why", ActionMoreAdvice())
    again = await chat.say("advice_why", ActionMoreAdvice())
    assert texts_of(again) == texts_of(first)
    first = await chat.say("ask_progress", ActionShowProgress())
    again = await chat.say("ask_progress", ActionShowProgress())
    assert texts_of(again) == texts_of(first)


def test_the_action_server_registers_every_action_and_not_the_base_class():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    assert {"action_give_step_advice", "action_more_advice", "action_end_rehearsal"} <= set(executor.actions)
    assert all(isinstance(name, str) and name.startswith(("action_", "validate_")) for name in executor.actions)

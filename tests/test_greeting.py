"""'Hi' gets the welcome once per conversation; after it, a short hello that offers the next thing."""

from actions.journey_actions import ActionGiveStepAdvice
from actions.session_actions import ActionGreet
from secondlook.replies import say
from tests.chat import Chat, payloads_of, texts_of

WELCOME = say("greet.welcome")


async def test_the_first_hi_gets_the_welcome(domain, store):
    reply = await Chat(domain).say("greet", ActionGreet(), text="hi")
    assert texts_of(reply) == [WELCOME]
    assert payloads_of(reply) == ["/doubt_diagnosis", "/ask_second_opinion_worth", "/ask_progress", "/help"]


async def test_hi_after_the_welcome_does_not_repeat_it(domain, store):
    chat = Chat(domain)
    await chat.say("greet", ActionGreet(), text="hi")
    again = await chat.say("greet", ActionGreet(), text="hello?")
    assert texts_of(again) == ["Hello again! What would you like to look at?"]
    assert WELCOME not in texts_of(again)
    assert "/next_step" in payloads_of(again)


async def test_hi_in_the_middle_of_a_step_offers_to_carry_on(domain, store):
    chat = Chat(domain)
    await chat.say("greet", ActionGreet(), text="hi")
    await chat.say("doubt_diagnosis", ActionGiveStepAdvice(), text="i doubt my diagnosis")
    again = await chat.say("greet", ActionGreet(), text="hiya, you there?")
    [text] = texts_of(again)
    assert text == "Hello again! We were on step 1, “Ask your doctor first”. Shall we carry on from there?"
    assert payloads_of(again) == ['/report_progress{"journey_step":"ask_doctor"}', "/next_step", "/ask_progress"]


async def test_a_new_conversation_is_welcomed_again(domain, store):
    chat = Chat(domain)
    await chat.say("greet", ActionGreet(), text="hi")
    chat.events.append({"event": "session_started"})
    reply = await chat.say("greet", ActionGreet(), text="hi")
    assert texts_of(reply) == [WELCOME]

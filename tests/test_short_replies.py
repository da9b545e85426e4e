"""Answer like a person: a step's default reply is the one thing to do now (at most about 80 words, across
its messages); the reasons and further tips come on request ("Why?", "More tips")."""

import pytest

from actions.journey_actions import ActionGiveStepAdvice, ActionMoreAdvice, ActionNextStep
from secondlook.journey import STEP_IDS, load_journey
from secondlook.specialties import specialty_entries
from tests.chat import Chat, payloads_of, texts_of, words

MAX_WORDS = 80
MESSAGE = "my cardiologist said it's afib and i see the new one next tuesday"


def _situations() -> list[list[dict]]:
    """No situation, each specialty named, and a specialty, a condition and an upcoming date at once."""
    named = [[{"entity": "specialty", "value": entry["name"]}] for entry in specialty_entries()]
    everything = [
        {"entity": "specialty", "value": "cardiology", "start": 3, "end": 15},
        {"entity": "condition", "value": "atrial fibrillation", "start": 29, "end": 33},
        {"entity": "DATE", "value": "next tuesday", "start": 54, "end": 66},
    ]
    return [[], *named, everything]


@pytest.mark.parametrize("step_id", STEP_IDS)
async def test_no_default_step_reply_is_longer_than_80_words(step_id, domain, store):
    journey = load_journey()
    step = journey.step(step_id)
    before = STEP_IDS[STEP_IDS.index(step_id) - 1] if step.number > 1 else None
    for entities in _situations():
        for current in (None, step_id):  # entering the step (with its heading) or already in it
            for intent in step.intents:
                chat = Chat(domain, slots={"current_step": current})
                reply = await chat.say(intent, ActionGiveStepAdvice(), text=MESSAGE, entities=entities)
                assert words(reply) <= MAX_WORDS, (intent, entities, texts_of(reply))
        chat = Chat(domain, slots={"current_step": before})
        reply = await chat.say("next_step", ActionNextStep(), text=MESSAGE, entities=entities)
        assert chat.slots["current_step"] == step_id
        assert words(reply) <= MAX_WORDS, (entities, texts_of(reply))


async def test_why_gives_the_reason_and_more_gives_the_next_tip(domain, store):
    step = load_journey().step("move_on")
    tips = step.tips("doctor_defensive")
    chat = Chat(domain)
    advice = await chat.say("doctor_defensive", ActionGiveStepAdvice())
    assert texts_of(advice) == [f"{step.heading}\n{tips[0].say}"]
    assert payloads_of(advice)[:2] == ["/advice_why", "/advice_more"]

    why = await chat.say("advice_why", ActionMoreAdvice())
    assert texts_of(why) == [tips[0].why]
    assert "/advice_why" not in payloads_of(why) and "/advice_more" in payloads_of(why)

    more = await chat.say("advice_more", ActionMoreAdvice())
    assert texts_of(more) == [tips[1].say]
    assert payloads_of(more)[:2] == ["/advice_why", "/advice_more"]

    why = await chat.say("advice_why", ActionMoreAdvice())
    assert texts_of(why) == [tips[1].why]  # only the reason not given yet

    for tip in tips[2:]:
        more = await chat.say("advice_more", ActionMoreAdvice())
        assert texts_of(more) == [tip.say]
    assert "/advice_more" not in payloads_of(more)
    done = await chat.say("advice_more", ActionMoreAdvice())
    assert texts_of(done) == ["That's all my tips for step 4. When you've done it, tell me, or see what comes next."]
    assert payloads_of(done) == ['/report_progress{"journey_step":"move_on"}', "/next_step"]


async def test_more_after_the_next_step_follows_the_steps_own_advice(domain, store):
    step = load_journey().step("be_honest")
    chat = Chat(domain, slots={"current_step": "ask_doctor"})
    await chat.say("next_step", ActionNextStep())
    more = await chat.say("advice_more", ActionMoreAdvice())
    assert texts_of(more) == [step.advice[1].say]


async def test_why_before_any_advice_offers_to_start(domain, store):
    chat = Chat(domain)
    reply = await chat.say("advice_why", ActionMoreAdvice())
    assert "haven't looked at a step" in texts_of(reply)[0]
    assert payloads_of(reply) == ["/next_step"]


def test_every_fixed_reply_is_at_most_80_words(domain):
    """The responses of domain.yml and the short replies of content/replies.yml."""
    from secondlook.content import content

    fixed = [variant["text"] for variants in domain["responses"].values() for variant in variants]
    fixed += [text for section in content("replies.yml").values() for text in section.values()]
    assert len(fixed) > 50
    assert [text for text in fixed if len(text.split()) > MAX_WORDS] == []

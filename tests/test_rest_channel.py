"""The REST channel's checks in-process (no server): what reaches Rasa, under which sender id, and what
the client gets back; then many generated bodies with hypothesis (the end-to-end fuzz run is in
tests/test_hostile_input.py)."""

import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.channels.channel import UserMessage
from sanic.compat import Header

from channels.guard import MAX_MESSAGE_CHARS, texts
from channels.rest import RestInput
from channels.webchat import SessionIds


class Rasa:
    """Stands in for Rasa's message handling: records each message and answers it."""

    def __init__(self, fail: bool = False) -> None:
        self.messages: list[UserMessage] = []
        self.fail = fail

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.fail:
            raise ConnectionError("the tracker store is down")
        await message.output_channel.send_text_message(message.sender_id, f"echo {message.text}")


async def post(
    channel: RestInput, rasa: Rasa, body: bytes | dict, headers: dict | None = None, peer: str = "127.0.0.1"
) -> tuple[int, object]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = SimpleNamespace(body=raw, headers=Header(headers or {}), ip=peer)
    response = await channel.receive(request, rasa)
    return response.status, json.loads(response.body)


async def test_a_good_message_reaches_rasa_as_sent_under_its_sender():
    rasa = Rasa()
    status, replies = await post(
        RestInput(), rasa, {"sender": "alice", "message": " hi ", "metadata": {"locale": "en-GB"}}
    )
    assert status == 200 and replies == [{"recipient_id": "alice", "text": "echo hi"}]
    (message,) = rasa.messages
    assert (message.sender_id, message.text, message.input_channel) == ("alice", "hi", "rest")
    assert message.metadata == {"locale": "en-GB"}


async def test_the_client_cannot_choose_the_input_channel():
    rasa = Rasa()
    await post(RestInput(), rasa, {"sender": "alice", "message": "hi", "input_channel": "telegram"})
    assert rasa.messages[0].input_channel == "rest"


async def test_a_failed_turn_answers_honestly_with_200():
    status, replies = await post(RestInput(), Rasa(fail=True), {"sender": "alice", "message": "hi"})
    assert status == 200 and replies == [{"recipient_id": "alice", "text": texts()["turn_failed"]}]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        ({"message": "hi"}, 400),
        ({"sender": None, "message": "hi"}, 400),
        ({"sender": "a b", "message": "hi"}, 400),
        ({"sender": "telegram-1", "message": "hi"}, 403),
        ({"sender": "alice\n", "message": "hi"}, 400),  # `$` of re.match would let the newline through
        ({"sender": "0123456789abcdef0123456789abcdef", "message": "hi"}, 403),  # shaped like a web chat session
        ({"sender": "alice", "message": ["hi"]}, 400),
        ({"sender": "alice", "message": "hi", "metadata": "x"}, 400),
        (b"x" * (64 * 1024 + 1), 413),
    ],
)
async def test_malformed_requests_never_reach_rasa(body, status):
    rasa = Rasa()
    assert (await post(RestInput(), rasa, body))[0] == status
    assert rasa.messages == []


@pytest.fixture
def rest_env(monkeypatch):
    monkeypatch.delenv("SECONDLOOK_DEPLOYMENT", raising=False)
    monkeypatch.delenv("SECONDLOOK_REST_TOKEN", raising=False)
    return monkeypatch


async def test_a_web_chat_session_id_cannot_be_used_over_rest(rest_env):
    """A leaked session id would otherwise read and erase that person's data without the web chat's signature."""
    rasa = Rasa()
    session_id = SessionIds(b"any key").new()
    status, reply = await post(RestInput(), rasa, {"sender": session_id, "message": "show my data"})
    assert status == 403 and "another channel" in reply["error"] and rasa.messages == []


async def test_with_a_rest_token_set_only_requests_that_carry_it_get_through(rest_env):
    rest_env.setenv("SECONDLOOK_REST_TOKEN", "rest-token-0123456789")
    rasa, channel, body = Rasa(), RestInput(), {"sender": "alice", "message": "hi"}
    assert (await post(channel, rasa, body))[0] == 401
    assert (await post(channel, rasa, body, {"Authorization": "Bearer guess"}))[0] == 401
    assert (await post(channel, rasa, body, {"Authorization": "rest-token-0123456789"}))[0] == 401
    assert rasa.messages == []
    assert (await post(channel, rasa, body, {"Authorization": "Bearer rest-token-0123456789"}))[0] == 200


async def test_in_production_rest_is_off_without_a_token_and_needs_it_with_one(rest_env):
    rest_env.setenv("SECONDLOOK_DEPLOYMENT", "production")
    rasa, body = Rasa(), {"sender": "alice", "message": "hi"}
    status, reply = await post(RestInput(), rasa, body)
    assert status == 403 and "SECONDLOOK_REST_TOKEN" in reply["error"]
    rest_env.setenv("SECONDLOOK_REST_TOKEN", "rest-token-0123456789")
    assert (await post(RestInput(), rasa, body))[0] == 401
    assert (await post(RestInput(), rasa, body, {"Authorization": "Bearer rest-token-0123456789"}))[0] == 200
    assert len(rasa.messages) == 1


async def test_on_a_developers_machine_rest_stays_open_without_a_token(rest_env):
    assert (await post(RestInput(), Rasa(), {"sender": "alice", "message": "hi"}))[0] == 200


async def test_empty_and_too_long_messages_are_answered_without_a_turn():
    rasa = Rasa()
    assert (await post(RestInput(), rasa, {"sender": "alice", "message": "\x00 "}))[1][0]["text"] == texts()["empty"]
    too_long = {"sender": "alice", "message": "x" * (MAX_MESSAGE_CHARS + 1)}
    assert "too long" in (await post(RestInput(), rasa, too_long))[1][0]["text"]
    assert rasa.messages == []


async def test_the_rate_limit_refuses_a_flood_from_one_sender_only(monkeypatch):
    monkeypatch.setenv("SECONDLOOK_RATE_BURST", "3")
    monkeypatch.setenv("SECONDLOOK_RATE_PER_SECOND", "0.001")
    channel, rasa = RestInput(), Rasa()
    statuses = [(await post(channel, rasa, {"sender": "flood", "message": "hi"}))[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert (await post(channel, rasa, {"sender": "calm", "message": "hi"}))[0] == 200
    assert len(rasa.messages) == 4


async def test_a_flood_rotating_senders_is_refused_by_its_address_and_others_are_not(monkeypatch):
    monkeypatch.setenv("SECONDLOOK_ADDRESS_RATE_BURST", "3")
    monkeypatch.setenv("SECONDLOOK_ADDRESS_RATE_PER_SECOND", "0.001")
    channel, rasa = RestInput(), Rasa()
    flood = [{"sender": f"s{n}", "message": "hi"} for n in range(5)]
    statuses = [(await post(channel, rasa, body, peer="203.0.113.7"))[0] for body in flood]
    assert statuses == [200, 200, 200, 429, 429]
    assert (await post(channel, rasa, {"sender": "s9", "message": "hi"}, peer="203.0.113.8"))[0] == 200
    assert [(await post(channel, rasa, {"sender": f"l{n}", "message": "hi"}))[0] for n in range(5)] == [200] * 5
    assert len(rasa.messages) == 9  # loopback (the host itself) is not limited by address


async def test_the_address_comes_from_the_trusted_proxy_header_only_when_configured(monkeypatch):
    monkeypatch.setenv("SECONDLOOK_ADDRESS_RATE_BURST", "1")
    monkeypatch.setenv("SECONDLOOK_ADDRESS_RATE_PER_SECOND", "0.001")
    forged = {"X-Forwarded-For": "127.0.0.1"}  # a client claiming to be the host itself
    channel, rasa = RestInput(), Rasa()
    bodies = [{"sender": f"s{n}", "message": "hi"} for n in (1, 2)]
    statuses = [(await post(channel, rasa, body, forged, "203.0.113.7"))[0] for body in bodies]
    assert statuses == [200, 429]  # no header configured: the peer's address counts

    monkeypatch.setenv("SECONDLOOK_TRUSTED_PROXY_HEADER", "X-Forwarded-For")
    channel = RestInput()
    via_proxy = [{"X-Forwarded-For": f"127.0.0.1, 198.51.100.{n}"} for n in (1, 2, 1)]
    statuses = [(await post(channel, rasa, {"sender": f"p{n}", "message": "hi"}, via_proxy[n]))[0] for n in range(3)]
    assert statuses == [200, 200, 429]  # the entry our proxy wrote, not the one the client wrote


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    ANY_JSON.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"sender": ANY_JSON | st.text(max_size=140), "message": ANY_JSON | st.text()},
        optional={"metadata": ANY_JSON},
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=1000, deadline=None)
@given(body=BODIES)
async def test_no_generated_body_crashes_the_channel_or_reaches_rasa_unchecked(body):
    rasa = Rasa()
    status, _ = await post(RestInput(), rasa, body)
    assert status in (200, 400, 401, 403, 413, 429)
    for message in rasa.messages:
        assert status == 200
        assert isinstance(message.text, str) and 0 < len(message.text) <= MAX_MESSAGE_CHARS
        assert not message.sender_id.lower().startswith(("telegram-", "slack-"))
        message.text.encode("utf-8")  # storable: no lone surrogates left

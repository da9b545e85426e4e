"""The pieces that keep the channels answering: text cleaning, the per-sender rate limit, and the honest
reply when a custom action fails (with Rasa's real RemoteAction against a closed port)."""

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from channels import guard, rasa_patches, webchat
from channels.guard import (
    MAX_MESSAGE_CHARS,
    AddressLimit,
    RateLimiter,
    answer_turn,
    clean_text,
    texts,
    too_long_text,
)
from channels.rasa_patches import install_action_fallback, keep_conversations_in_their_store
from channels.telegram import SECRET_HEADER, TelegramInput
from channels.webchat import SessionIds
from secondlook.devtools.servers import free_port
from secondlook.paths import PROJECT_ROOT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  hello  ", "hello"),
        ("he\x00llo\x1b[31m", "hello[31m"),
        ("line one\nline two\ttab", "line one\nline two\ttab"),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("broken \ud800 surrogate", "broken  surrogate"),
        ("emoji 👩‍⚕️ stays", "emoji 👩‍⚕️ stays"),
        ("x" * MAX_MESSAGE_CHARS, "x" * MAX_MESSAGE_CHARS),
    ],
)
def test_text_is_cleaned_the_same_way_everywhere(raw, expected):
    assert clean_text(raw).text == expected


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01\x02", "\ud800", None, 42, ["hi"]])
def test_unreadable_messages_get_the_polite_empty_reply(raw):
    cleaned = clean_text(raw)
    assert cleaned.text is None and cleaned.problem == "empty"
    assert cleaned.reply == texts()["empty"]


def test_a_too_long_message_is_refused_with_the_limit_not_cut():
    cleaned = clean_text("x" * (MAX_MESSAGE_CHARS + 1))
    assert cleaned.text is None and cleaned.problem == "too_long"
    assert f"{MAX_MESSAGE_CHARS:,}" in cleaned.reply


def test_the_rate_limit_is_per_sender_and_refills():
    limiter = RateLimiter(rate=2, burst=3)
    start = time.monotonic()
    assert [limiter.allow("flood", start) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("someone else", start)
    assert not limiter.allow("flood", start + 0.1)
    assert not limiter.allow("flood", start + 0.6)  # sending on while refused keeps it refused
    assert limiter.allow("flood", start + 5)  # a pause, as the reply asks, lets it in again


def test_the_rate_limit_forgets_idle_senders_beyond_its_size():
    limiter = RateLimiter(rate=1, burst=1, size=2)
    for sender in ("a", "b", "c"):
        limiter.allow(sender, 0)
    assert list(limiter._buckets) == ["b", "c"]


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_header_is_configured():
    assert AddressLimit({}).address("198.51.100.1", "203.0.113.9") == "203.0.113.9"
    one_hop = AddressLimit({"SECONDLOOK_TRUSTED_PROXY_HEADER": "X-Forwarded-For"})
    assert one_hop.address("6.6.6.6, 198.51.100.1", "10.0.0.2") == "198.51.100.1"
    assert one_hop.address(None, "10.0.0.2") == "10.0.0.2"  # not through the proxy: the peer
    two_hops = AddressLimit(
        {"SECONDLOOK_TRUSTED_PROXY_HEADER": "X-Forwarded-For", "SECONDLOOK_TRUSTED_PROXY_HOPS": "2"}
    )
    assert two_hops.address("6.6.6.6,198.51.100.1, 10.0.0.5", "10.0.0.2") == "198.51.100.1"
    assert two_hops.address("198.51.100.1", "10.0.0.2") == "198.51.100.1"  # only our proxies wrote it
    assert one_hop.address("::ffff:198.51.100.1", "") == "198.51.100.1"
    assert AddressLimit({}).address(None, "2001:DB8::1") == "2001:db8::1"


def test_the_address_limit_spares_loopback_and_counts_ipv6_by_its_64():
    limit = AddressLimit({"SECONDLOOK_ADDRESS_RATE_BURST": "2", "SECONDLOOK_ADDRESS_RATE_PER_SECOND": "1"})
    assert [limit.allow("203.0.113.7", 0) for _ in range(3)] == [True, True, False]
    assert limit.allow("203.0.113.8", 0)
    assert all(limit.allow("127.0.0.1", 0) for _ in range(10)) and all(limit.allow("::1", 0) for _ in range(10))
    assert [limit.allow(f"2001:db8:0:1::{n}", 0) for n in range(3)] == [True, True, False]
    assert limit.allow("2001:db8:0:2::1", 0)
    strict = AddressLimit({"SECONDLOOK_ADDRESS_RATE_BURST": "1", "SECONDLOOK_ADDRESS_LIMIT_EXEMPT": ""})
    assert [strict.allow("127.0.0.1", 0) for _ in range(2)] == [True, False]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def tracker_with(text: str, metadata: dict | None = None) -> DialogueStateTracker:
    tracker = DialogueStateTracker("guard-test", slots=[])
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}, metadata=metadata))
    return tracker


def dead_endpoint() -> EndpointConfig:
    return EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")  # nothing listens there


async def test_an_unreachable_action_server_becomes_one_honest_reply(domain):
    install_action_fallback()
    tracker = tracker_with("where am i")
    started = time.monotonic()
    events = await RemoteAction("action_show_progress", dead_endpoint()).run(
        CollectingOutputChannel(), None, tracker, domain
    )
    assert time.monotonic() - started < 5
    assert [type(event) for event in events] == [BotUttered]
    assert events[0].text == texts()["action_failed"]

    tracker.update_with_events(events, domain)  # a second failing action in the same turn stays quiet
    again = await RemoteAction("action_next_step", dead_endpoint()).run(
        CollectingOutputChannel(), None, tracker, domain
    )
    assert again == []


async def test_a_hanging_action_server_is_given_up_within_the_time_limit(domain, monkeypatch):
    install_action_fallback()
    monkeypatch.setenv("SECONDLOOK_ACTION_TIMEOUT", "0.5")
    listener = __import__("socket").socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts the connection but never answers
    endpoint = EndpointConfig(f"http://127.0.0.1:{listener.getsockname()[1]}/webhook")
    try:
        started = time.monotonic()
        events = await RemoteAction("action_show_progress", endpoint).run(
            CollectingOutputChannel(), None, tracker_with("where am i"), domain
        )
        assert time.monotonic() - started < 3
        assert events[0].text == texts()["action_failed"]
    finally:
        listener.close()


async def test_the_emergency_answer_is_given_even_without_the_action_server(domain):
    install_action_fallback()
    tracker = tracker_with("I can't breathe", metadata={"locale": "en-GB"})
    events = await RemoteAction("action_handle_emergency", dead_endpoint()).run(
        CollectingOutputChannel(), None, tracker, domain
    )
    said = " ".join(event.text for event in events if isinstance(event, BotUttered))
    assert "999" in said and "116 123" in said
    assert ActiveLoop(None) in events and SlotSet("rehearsal_active", False) in events


async def test_a_failed_session_start_still_starts_the_session_with_the_disclaimer(domain):
    install_action_fallback()
    events = await RemoteAction("action_session_start", dead_endpoint()).run(
        CollectingOutputChannel(), None, DialogueStateTracker("guard-test", slots=[]), domain
    )
    assert isinstance(events[0], SessionStarted)
    assert "not a doctor" in events[1].text
    assert not any(isinstance(event, SlotSet) for event in events)


def test_the_fallback_is_installed_once():
    install_action_fallback()
    wrapped = RemoteAction.run
    install_action_fallback()
    assert RemoteAction.run is wrapped and getattr(wrapped, guard.FALLBACK_MARK)


async def test_a_turn_that_fails_outside_the_actions_still_answers():
    async def broken_turn(_message):
        raise ConnectionError("tracker store down")

    output = CollectingOutputChannel()
    ran = await answer_turn(broken_turn, UserMessage("hi", output, "guard-test"))
    assert not ran
    assert [message["text"] for message in output.messages] == [texts()["turn_failed"]]


def test_web_chat_session_ids_are_issued_and_recognised_only_by_the_server():
    ids = SessionIds(b"server key")
    issued = ids.new()
    assert len(issued) == 32 and ids.issued(issued)
    assert ids.new() != issued
    assert not SessionIds(b"another key").issued(issued)
    for forged in ("0" * 32, issued[:16] + "0" * 16, issued.upper(), None, 42, issued + "0"):
        assert not ids.issued(forged)


def test_the_session_key_comes_from_the_environment_or_a_private_file_made_once(tmp_path, monkeypatch):
    monkeypatch.setattr(webchat, "SESSION_KEY_FILE", tmp_path / "var" / "session_key")
    monkeypatch.delenv("SECONDLOOK_SESSION_KEY", raising=False)
    first = webchat.session_key()
    assert len(first) == 64 and webchat.session_key() == first
    assert (tmp_path / "var" / "session_key").stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "var").iterdir()) == [tmp_path / "var" / "session_key"]
    monkeypatch.setenv("SECONDLOOK_SESSION_KEY", "configured")
    assert webchat.session_key() == b"configured"


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id):
        raise ConnectionError("database down")

    async def save(self, tracker):
        raise ConnectionError("database down")


async def test_a_down_tracker_store_fails_the_turn_instead_of_starting_an_empty_conversation(domain):
    store = FailSafeTrackerStore(BrokenStore(domain))
    assert await store.retrieve("someone") is None  # Rasa's own behaviour: a stranger in memory
    await keep_conversations_in_their_store(
        SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    )
    with pytest.raises(rasa_patches.ConversationStoreUnavailable):
        await store.retrieve("someone")
    with pytest.raises(rasa_patches.ConversationStoreUnavailable):
        await store.save(DialogueStateTracker("someone", slots=[]))
    assert await store.fallback_tracker_store.retrieve("someone") is None  # nothing kept aside


async def test_a_huge_telegram_message_gets_the_too_long_reply_without_a_turn():
    telegram = TelegramInput("123:abc", secret_token="s")
    sent, turns = [], []

    async def call(method, **params):
        sent.append((method, params.get("text")))

    async def on_new_message(message):
        turns.append(message)

    telegram.api.call = call
    chat = {"id": 5, "type": "private"}
    update = {"update_id": 7, "message": {"message_id": 7, "chat": chat, "from": {"id": 5}, "text": "word " * 5000}}
    app = SimpleNamespace(add_task=asyncio.ensure_future, ctx=SimpleNamespace())
    request = SimpleNamespace(headers={SECRET_HEADER: "s"}, body=json.dumps(update).encode(), app=app)
    assert (await telegram.receive(request, on_new_message)).status == 200
    await asyncio.sleep(0.2)
    assert sent == [("sendMessage", too_long_text())] and turns == []

"""Hostile and broken input on every entry point, against the real servers: REST, the Telegram and
Slack webhooks (with their stand-ins on loopback) and socket.io. A clear 4xx or a polite reply, never
a 5xx, never a crash, never a write into someone else's conversation; floods that rotate senders,
sockets or sessions are refused by client address (every client is on loopback: the trusted proxy
header presents them as distinct addresses); then a property-based fuzz run (hypothesis) over the
REST and webhook inputs, after which the server is alive and a bystander's conversation is exactly as
it was."""

import asyncio
import collections
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.guard import MAX_MESSAGE_CHARS, texts, too_long_text
from channels.slack import signature
from channels.telegram import SECRET_HEADER
from channels.webchat import DEFAULT_MAX_SESSIONS_PER_SOCKET
from secondlook.devtools.servers import API_TOKEN, BotProcesses, reply_text
from tests.fuzz_inputs import rest_bodies, slack_bodies, telegram_bodies
from tests.standins import CHANNEL_CREDENTIALS, CHANNEL_VARIABLES, SlackStandIn, TelegramStandIn

TELEGRAM_TOKEN = "123456:FUZZ-token_abc"
TELEGRAM_SECRET = "fuzz-secret_0123456789"
SLACK_TOKEN = "xoxb-fuzz-token"
SLACK_SECRET = "fuzz-signing-secret-0123456789abcdef"
WEBCHAT_CREDENTIALS = "channels.webchat.WebChatInput:\n  session_persistence: true\n"
ADDRESS_BURST, ADDRESS_PER_SECOND = 10, 2  # per client address; loopback itself is never limited


@pytest.fixture(scope="module")
def stand_ins():
    telegram, slack = TelegramStandIn(TELEGRAM_TOKEN, "FuzzBot").start(), SlackStandIn().start()
    yield telegram, slack
    telegram.stop()
    slack.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, stand_ins):
    telegram, slack = stand_ins
    workdir = tmp_path_factory.mktemp("hostile")
    credentials = workdir / "credentials.yml"
    credentials.write_text(CHANNEL_CREDENTIALS + WEBCHAT_CREDENTIALS)
    env = {name: "" for name in CHANNEL_VARIABLES}
    env.update(
        TELEGRAM_ACCESS_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_API_BASE_URL=telegram.url,
        TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET,
        SLACK_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_BASE_URL=slack.api_base_url,
        SECONDLOOK_RATE_BURST="4",
        SECONDLOOK_RATE_PER_SECOND="1",
        SECONDLOOK_SESSION_KEY="hostile-input-test-key",
        SECONDLOOK_TRUSTED_PROXY_HEADER="X-Forwarded-For",
        SECONDLOOK_ADDRESS_RATE_BURST=str(ADDRESS_BURST),
        SECONDLOOK_ADDRESS_RATE_PER_SECOND=str(ADDRESS_PER_SECOND),
    )
    processes = BotProcesses(workdir, env=env, credentials=credentials)
    try:
        yield processes.start()
    finally:
        processes.stop()


def rest(bot: BotProcesses, body: bytes | dict, **headers: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{bot.url}/webhooks/rest/webhook", data=data, headers=headers, timeout=30)


def events_of(bot: BotProcesses, sender: str) -> list[dict]:
    tracker = requests.get(f"{bot.url}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=30)
    tracker.raise_for_status()
    return tracker.json()["events"]


def user_texts(bot: BotProcesses, sender: str) -> list[str]:
    return [event.get("text") for event in events_of(bot, sender) if event["event"] == "user"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json at all", 400),
        (b"\xff\xfe\x00binary", 400),
        (b"", 400),
        (b"[1, 2, 3]", 400),
        (b'"just a string"', 400),
        (b'{"message": "hi"}', 400),  # no sender: Rasa's channel would write into "default"
        (b'{"sender": 42, "message": "hi"}', 400),
        (b'{"sender": "", "message": "hi"}', 400),
        (b'{"sender": "has space", "message": "hi"}', 400),
        (b'{"sender": "../../etc", "message": "hi"}', 400),
        (json.dumps({"sender": "x" * 129, "message": "hi"}).encode(), 400),
        (b'{"sender": "ok-sender"}', 400),
        (b'{"sender": "ok-sender", "message": 42}', 400),
        (b'{"sender": "ok-sender", "message": null}', 400),
        (b'{"sender": "ok-sender", "message": "hi", "metadata": [1]}', 400),
        (b'{"sender": "telegram-12345", "message": "hi"}', 403),
        (b'{"sender": "SLACK-T1-U1", "message": "hi"}', 403),
        (json.dumps({"sender": "ok-sender", "message": "x" * 70_000}).encode(), 413),
        (b'{"sender": "ok-sender", "message": "hi", "metadata": {"a": "' + b"x" * 5000 + b'"}}', 400),
        (b"[" * 60_000, 400),  # nesting deeper than the parser's recursion limit
        (b"[" * 100_000, 413),
    ],
)
def test_malformed_rest_requests_get_a_clear_4xx_and_change_nothing(bot, body, status):
    response = rest(bot, body)
    assert response.status_code == status
    assert "error" in response.json()
    assert user_texts(bot, "ok-sender") == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", texts()["empty"]),
        ("   \n\t ", texts()["empty"]),
        ("\x00\x01\x02\x7f", texts()["empty"]),
        ("x" * (MAX_MESSAGE_CHARS + 1), too_long_text()),
    ],
)
def test_unreadable_or_too_long_messages_get_a_polite_reply_and_are_not_stored(bot, message, expected):
    sender = f"odd-{uuid.uuid4().hex}"
    response = rest(bot, {"sender": sender, "message": message})
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": sender, "text": expected}]
    assert user_texts(bot, sender) == []


def test_control_characters_and_odd_encodings_are_cleaned_then_answered(bot):
    sender = f"odd-{uuid.uuid4().hex}"
    body = (
        b'{"sender": "'
        + sender.encode()
        + b'", "message": "he\\u0000llo\\u001b \\ud800there\\u200b caf\\u0065\\u0301"}'
    )
    response = rest(bot, body, **{"Content-Type": "text/plain; charset=latin-1"})
    assert response.status_code == 200
    assert reply_text(response.json()).strip()
    assert user_texts(bot, sender) == ["hello there\u200b caf\u00e9"]


def test_rest_cannot_write_into_a_telegram_users_conversation(bot):
    victim = "telegram-4242"
    assert rest(bot, {"sender": victim, "message": "delete my data"}).status_code == 403
    assert user_texts(bot, victim) == []


def test_a_flood_from_one_rest_sender_gets_429_with_a_polite_reply(bot):
    sender = f"flood-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: rest(bot, {"sender": sender, "message": "hi"}), range(10)))
    statuses = collections.Counter(response.status_code for response in responses)
    assert statuses[200] <= 5 and statuses[429] >= 5 and set(statuses) == {200, 429}
    limited = next(response for response in responses if response.status_code == 429)
    assert limited.json() == [{"recipient_id": sender, "text": texts()["slow_down"]}]
    assert limited.headers["Retry-After"] == "1"
    assert rest(bot, {"sender": f"other-{uuid.uuid4().hex}", "message": "hi"}).status_code == 200


# --- oversize bodies -----------------------------------------------------------------------------

HUGE = 90_000_000  # under Sanic's own default limit (100 MB), which the server used to read into memory
BIG = 60_000_000


def open_request(bot: BotProcesses, path: str, length: int) -> socket.socket:
    """A POST whose headers announce `length` bytes of body, of which none is sent yet."""
    connection = socket.create_connection(("127.0.0.1", bot.rasa_port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    connection.sendall(f"{head}Content-Length: {length}\r\n\r\n".encode())
    return connection


@pytest.mark.parametrize(
    "path", ["/webhooks/rest/webhook", "/webhooks/telegram/webhook", "/webhooks/slack/webhook", "/model/parse"]
)
def test_an_oversize_body_is_refused_with_413_before_it_is_read(bot, path):
    started = time.monotonic()
    with open_request(bot, path, HUGE) as connection:
        connection.settimeout(5)  # the server answers on the headers alone: it never waits for the body
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 5


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def send_big_body(bot: BotProcesses) -> float:
    """Sends a BIG body as fast as the server takes it; seconds until the server stopped taking it."""
    started = time.monotonic()
    chunk = b" " * 1_000_000
    with open_request(bot, "/webhooks/rest/webhook", BIG) as connection:
        try:
            for _ in range(BIG // len(chunk)):
                connection.sendall(chunk)
            connection.recv(200)
        except OSError:  # the server answered 413 and closed the connection: what should happen
            pass
    return time.monotonic() - started


def test_oversize_bodies_sent_at_once_do_not_grow_the_server(bot):
    """4 x 60 MB sent at once (loopback, bounded): the server refuses them instead of holding them
    (it used to keep each in memory: hundreds of MB on a machine other servers share)."""
    pid = bot.rasa_server.pid
    before, peak, sending = rss_mb(pid), rss_mb(pid), True

    def watch() -> None:
        nonlocal peak
        while sending:
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            durations = [round(seconds, 1) for seconds in pool.map(lambda _: send_big_body(bot), range(4))]
    finally:
        sending = False
        watcher.join()
    print(f"oversize bodies: RSS {before:.0f} MB before, peak {peak:.0f} MB; seconds {durations}")
    assert peak - before < 100
    assert max(durations) < 30
    assert rest(bot, {"sender": f"after-{uuid.uuid4().hex}", "message": "hi"}).status_code == 200


def timed_turn(bot: BotProcesses, sender: str, address: str) -> float:
    started = time.perf_counter()
    response = rest(bot, {"sender": sender, "message": "what can you do?"}, **{"X-Forwarded-For": address})
    assert response.status_code == 200 and response.json()
    return time.perf_counter() - started


def test_a_flood_rotating_senders_from_one_address_is_refused_and_another_address_is_answered(bot):
    """Each message of the flood has a new sender (so no per-sender limit ever sees more than one):
    40 a second for 5 s from one address. It gets its burst, then 429s; a user at another address
    keeps being answered in about the time it takes without the flood."""
    victim, flood_prefix = f"victim-{uuid.uuid4().hex}", f"rotating-{uuid.uuid4().hex[:12]}-"
    before = [timed_turn(bot, victim, "198.51.100.20") for _ in range(3)]
    flooder = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("flooder.py")), f"{bot.url}/webhooks/rest/webhook",
         flood_prefix + "{n}", "40", "198.51.100.10"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        time.sleep(1.5)  # the flood's burst allowance is spent
        during = []
        for _ in range(5):
            during.append(timed_turn(bot, victim, "198.51.100.20"))
            time.sleep(0.6)  # a person, within the per-sender limit
    finally:
        flooder.send_signal(signal.SIGTERM)
        output, _ = flooder.communicate(timeout=60)
    seconds = time.perf_counter() - started
    statuses = {int(status): number for status, number in json.loads(output).items()}
    print(f"rotating flood: {statuses} in {seconds:.1f} s; victim before {before}, during {during}")
    # (-1 counts the moments all 16 of the flooder's connections were waiting: a busy machine.)
    assert statuses.get(200, 0) <= ADDRESS_BURST + ADDRESS_PER_SECOND * seconds
    assert statuses.get(429, 0) >= 50 and statuses.get(429, 0) >= 3 * statuses.get(200, 0)
    assert statistics.median(during) <= max(2.0, 3 * statistics.median(before))
    for late in (80, 90, 99):  # refused senders: nothing stored for them
        assert user_texts(bot, f"{flood_prefix}{late}") == []


# --- socket.io ---------------------------------------------------------------------------------


async def socket_session(
    bot: BotProcesses, requested: str | None, address: str | None = None
) -> tuple[socketio.AsyncClient, str, list]:
    client = socketio.AsyncClient(reconnection=False)
    received: list = []
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda session_id: confirmed.set_result(session_id))
    client.on("bot_uttered", lambda message: received.append(message))
    headers = {"Origin": bot.url, **({"X-Forwarded-For": address} if address else {})}
    await client.connect(bot.url, headers=headers, transports=["polling"], socketio_path="/socket.io")
    await client.emit("session_request", {"session_id": requested})
    return client, await asyncio.wait_for(confirmed, 10), received


async def wait_for_messages(received: list, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def test_socketio_session_ids_are_issued_by_the_server_not_chosen_by_the_client(bot):
    forged = "0" * 32
    client, session_id, _ = await socket_session(bot, forged)
    await client.disconnect()
    assert session_id != forged and len(session_id) == 32

    again, resumed, _ = await socket_session(bot, session_id)  # an id the server issued is resumed
    await again.disconnect()
    assert resumed == session_id


async def test_socketio_odd_messages_get_polite_replies_or_are_ignored(bot):
    client, session_id, received = await socket_session(bot, None)
    try:
        for junk in (None, 42, "text", ["list"], {"message": 7, "session_id": session_id}):
            await client.emit("user_uttered", junk)  # ignored
        await client.emit("user_uttered", {"message": "hi", "session_id": "f" * 32})  # a session not requested
        await client.emit("user_uttered", {"message": "\x00 \x07", "session_id": session_id})
        await wait_for_messages(received, 1)
        await client.emit("user_uttered", {"message": "y" * (MAX_MESSAGE_CHARS + 5), "session_id": session_id})
        await wait_for_messages(received, 2)
    finally:
        await client.disconnect()
    assert [message.get("text") for message in received] == [texts()["empty"], too_long_text()]
    assert user_texts(bot, session_id) == []
    assert user_texts(bot, "f" * 32) == []


async def test_one_socket_asking_for_many_sessions_is_disconnected_at_the_cap(bot):
    client = socketio.AsyncClient(reconnection=False)
    confirmed: list = []
    client.on("session_confirm", confirmed.append)
    await client.connect(bot.url, headers={"Origin": bot.url}, transports=["polling"], socketio_path="/socket.io")
    try:
        for _ in range(DEFAULT_MAX_SESSIONS_PER_SOCKET + 40):
            if not client.connected:
                break
            await client.emit("session_request", {"session_id": None})
            await asyncio.sleep(0.01)
        deadline = time.monotonic() + 10
        while client.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not client.connected
    finally:
        await client.disconnect()
    assert len(confirmed) == DEFAULT_MAX_SESSIONS_PER_SOCKET
    another, session_id, _ = await socket_session(bot, None)  # everyone else is served as before
    await another.disconnect()
    assert len(session_id) == 32


async def test_new_sockets_from_one_address_are_refused_past_its_limit_and_others_still_connect(bot):
    opened, refused = [], 0
    try:
        for _ in range(3 * ADDRESS_BURST):
            client = socketio.AsyncClient(reconnection=False)
            headers = {"Origin": bot.url, "X-Forwarded-For": "198.51.100.30"}
            try:
                await client.connect(bot.url, headers=headers, transports=["polling"], socketio_path="/socket.io")
            except socketio.exceptions.ConnectionError:
                refused += 1
                if refused == 3:
                    break
            else:
                opened.append(client)
        elsewhere, session_id, _ = await socket_session(bot, None, address="198.51.100.31")
        await elsewhere.disconnect()
    finally:
        for client in opened:
            await client.disconnect()
    assert refused == 3 and len(opened) <= ADDRESS_BURST + 2
    assert len(session_id) == 32


async def test_oversize_web_chat_metadata_is_refused_politely_and_nothing_is_stored(bot):
    client, session_id, received = await socket_session(bot, None)
    big = {"note": "x" * 100_000}
    message = {"message": "I doubt my diagnosis", "session_id": session_id}
    try:
        await client.emit("user_uttered", {**message, "metadata": big})
        await wait_for_messages(received, 1)
        await client.emit("user_uttered", {**message, "metadata": json.dumps(big)})  # as a JSON string
        await wait_for_messages(received, 2)
    finally:
        await client.disconnect()
    assert [message.get("text") for message in received] == [texts()["metadata_too_large"]] * 2
    assert user_texts(bot, session_id) == []
    assert all("x" * 1000 not in json.dumps(event) for event in events_of(bot, session_id))


# --- the fuzz run (the inputs: tests/fuzz_inputs.py) ---------------------------------------------

FUZZ = settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))


class Fuzz:
    """Posts every generated input and counts the answers by status."""

    def __init__(self, bot: BotProcesses) -> None:
        self.bot = bot
        self.session = requests.Session()
        self.statuses: collections.Counter = collections.Counter()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        response = self.session.post(f"{self.bot.url}{path}", data=body, headers=headers, timeout=60)
        self.statuses[response.status_code] += 1
        assert response.status_code < 500, (path, body[:200], response.status_code, response.text[:200])


def test_fuzzing_every_webhook_gives_no_5xx_and_leaves_a_bystander_untouched(bot):
    bystander = f"bystander-{uuid.uuid4().hex}"
    bot.say(bystander, "I doubt my diagnosis")
    bot.say(bystander, '/report_progress{"journey_step":"ask_doctor"}')
    before = events_of(bot, bystander)
    fuzz = Fuzz(bot)
    started = time.monotonic()

    @FUZZ
    @given(body=rest_bodies())
    def fuzz_rest(body: bytes) -> None:
        fuzz.post("/webhooks/rest/webhook", body, {"Content-Type": "application/json"})

    @FUZZ
    @given(body=telegram_bodies(), secret=st.sampled_from([TELEGRAM_SECRET, TELEGRAM_SECRET, "wrong", ""]))
    def fuzz_telegram(body: bytes, secret: str) -> None:
        fuzz.post("/webhooks/telegram/webhook", body, {SECRET_HEADER: secret, "Content-Type": "application/json"})

    @FUZZ
    @given(typed_body=slack_bodies(), forged=st.sampled_from([False, False, False, True]))
    def fuzz_slack(typed_body: tuple[str, bytes], forged: bool) -> None:
        content_type, body = typed_body
        stamp = str(int(time.time()))
        sent = signature("forged" if forged else SLACK_SECRET, stamp, body)
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sent}
        fuzz.post("/webhooks/slack/webhook", body, headers)

    fuzz_rest()
    fuzz_telegram()
    fuzz_slack()
    seconds = time.monotonic() - started
    total = sum(fuzz.statuses.values())
    print(f"fuzz: {total} requests in {seconds:.0f} s, statuses {dict(sorted(fuzz.statuses.items()))}")
    assert total >= 2500
    assert not any(status >= 500 for status in fuzz.statuses)

    assert requests.get(f"{bot.url}/status", params={"token": API_TOKEN}, timeout=10).ok
    assert events_of(bot, bystander) == before
    assert "Step 2 of 5" in reply_text(bot.say(bystander, "what's next?"))

"""HTTP stand-ins for the Telegram Bot API and the Slack Web API, on a free 127.0.0.1 port, for the
end-to-end tests of the channels. They record every call (method, path, JSON body, headers) and answer
the way the real APIs do, so the bot's connectors can be pointed at them with their base-URL settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


@dataclass
class Call:
    """One request the bot made to the stand-in."""

    method: str
    path: str
    json: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def api_method(self) -> str:
        """The API method called: `sendMessage` for /bot<token>/sendMessage, `chat.postMessage`..."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class StandIn:
    """A recording HTTP server; subclasses decide the answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, call: Call) -> dict[str, Any]:
        raise NotImplementedError

    def record(self, call: Call) -> dict[str, Any]:
        with self._lock:
            self.calls.append(call)
            return self.answer(call)

    def calls_to(self, api_method: str, where: Callable[[Call], bool] = lambda call: True) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.api_method == api_method and where(call)]

    def wait_for(
        self, api_method: str, where: Callable[[Call], bool] = lambda call: True, count: int = 1, timeout: float = 60
    ) -> list[Call]:
        """The matching calls once there are at least `count` of them (the bot answers after its 200)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(api_method, where)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {count} call(s) to {api_method} within {timeout:.0f} s; calls: {self.calls}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                call = Call("POST", self.path, body, {key.lower(): value for key, value in self.headers.items()})
                answer = json.dumps(stand_in.record(call)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        return Handler


class TelegramStandIn(StandIn):
    """The Bot API: `POST /bot<token>/<method>` answered with {"ok": true, "result": ...}."""

    def __init__(self, token: str, username: str) -> None:
        super().__init__()
        self.token = token
        self.username = username
        self._message_id = 0

    def answer(self, call: Call) -> dict[str, Any]:
        if not call.path.startswith(f"/bot{self.token}/"):
            return {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if call.api_method == "getMe":
            return {"ok": True, "result": {"id": 4242, "is_bot": True, "first_name": "SL", "username": self.username}}
        if call.api_method == "sendMessage":
            self._message_id += 1
            chat = {"id": call.json.get("chat_id"), "type": "private"}
            result = {"message_id": self._message_id, "date": int(time.time()), "chat": chat, **call.json}
            return {"ok": True, "result": result}
        return {"ok": True, "result": True}


class SlackStandIn(StandIn):
    """The Web API: `POST /api/chat.postMessage` answered with {"ok": true, "ts": ...}."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/api/"

    def answer(self, call: Call) -> dict[str, Any]:
        self._count += 1
        return {"ok": True, "channel": call.json.get("channel"), "ts": f"{int(time.time())}.{self._count:06d}"}


# The credentials.yml entries of the two channels, as the project's credentials.yml holds them: quoted
# "${VAR}" values are left to the channel, which treats an unset variable as "channel off".
CHANNEL_CREDENTIALS = """\
channels.rest.RestInput:
channels.telegram.TelegramInput:
  access_token: "${TELEGRAM_ACCESS_TOKEN}"
  verify: "${TELEGRAM_VERIFY}"
  webhook_url: "${TELEGRAM_WEBHOOK_URL}"
  api_base_url: "${TELEGRAM_API_BASE_URL}"
  secret_token: "${TELEGRAM_SECRET_TOKEN}"
channels.slack.SlackInput:
  slack_token: "${SLACK_TOKEN}"
  slack_signing_secret: "${SLACK_SIGNING_SECRET}"
  slack_api_base_url: "${SLACK_API_BASE_URL}"
"""

CHANNEL_VARIABLES = (
    "TELEGRAM_ACCESS_TOKEN",
    "TELEGRAM_VERIFY",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_SECRET_TOKEN",
    "SLACK_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_BASE_URL",
)


def quiet_wait(count: Callable[[], int], before: int, settle: float = 1.5, timeout: float = 60) -> None:
    """Waits until `count()` has grown past `before` (counted before the request was sent: a reply
    that needs no NLU, such as the text-only note, can arrive before the webhook's 200 is read), then
    until no further call came for `settle` seconds: a turn's replies go out one by one after the
    webhook's 200, with no end marker."""
    deadline = time.monotonic() + timeout
    while count() == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"no reply within {timeout:.0f} s")
        time.sleep(0.1)
    seen, last_change = count(), time.monotonic()
    while time.monotonic() - last_change < settle:
        time.sleep(0.1)
        if count() != seen:
            seen, last_change = count(), time.monotonic()

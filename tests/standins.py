"""HTTP stand-ins for the Telegram Bot API and the Slack Web API, on a free 127.0.0.1 port, for the
end-to-end tests of the channels. They record every call (method, path, body, headers) and answer
the way the real APIs do, so the bot's connectors can be pointed at them with their base-URL settings.

Bodies are read as the APIs read them: JSON, a form (`application/x-www-form-urlencoded`), or
`multipart/form-data` with files (Telegram's sendDocument); the fields land in `Call.json`, the files in
`Call.files`, and the raw bytes in `Call.body` (Slack's file upload URL takes the bytes as they are)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from secondlook.devtools.servers import free_port


@dataclass
class Call:
    """One request the bot made to the stand-in."""

    method: str
    path: str
    json: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field: (file name, content)
    body: bytes = b""

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
                headers = {key.lower(): value for key, value in self.headers.items()}
                body, files = parse_body(headers.get("content-type", ""), raw)
                call = Call("POST", self.path, body, headers, files, raw)
                answer = json.dumps(stand_in.record(call)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        return Handler


TELEGRAM_DELETE_SECONDS = 48 * 3600  # a bot may delete a message (its own, or the user's in a private chat) this long


def parse_body(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """The fields and files of a request body, by its content type."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)), {}
    if media_type == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            content = part.get_payload(decode=True) or b""
            if part.get_filename():
                files[name] = (part.get_filename(), content)
            else:
                fields[name] = content.decode("utf-8")
        return fields, files
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {"_raw": raw.decode("utf-8", "replace")}, {}
    return (parsed if isinstance(parsed, dict) else {"_json": parsed}), {}


class TelegramStandIn(StandIn):
    """The Bot API: `POST /bot<token>/<method>` answered with {"ok": true, "result": ...}.

    It keeps every chat's messages (the bot's as it sends them, the user's as the test reports them with
    `user_sent`), and deleteMessage / deleteMessages really delete them, under Telegram's rules."""

    def __init__(self, token: str, username: str) -> None:
        super().__init__()
        self.token = token
        self.username = username
        self._message_id = 0
        self.chats: dict[int, dict[int, int]] = {}  # chat id -> {message id: date}

    def user_sent(self, chat_id: int, message_id: int, date: int) -> None:
        with self._lock:
            self.chats.setdefault(chat_id, {})[message_id] = date

    def messages_in(self, chat_id: int) -> list[int]:
        with self._lock:
            return sorted(self.chats.get(chat_id, {}))

    def answer(self, call: Call) -> dict[str, Any]:
        if not call.path.startswith(f"/bot{self.token}/"):
            return {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if call.api_method == "getMe":
            return {"ok": True, "result": {"id": 4242, "is_bot": True, "first_name": "SL", "username": self.username}}
        if call.api_method in ("sendMessage", "sendPhoto"):
            self._message_id += 1
            chat = {"id": call.json.get("chat_id"), "type": "private"}
            result = {"message_id": self._message_id, "date": int(time.time()), "chat": chat, **call.json}
            self.chats.setdefault(chat["id"], {})[self._message_id] = result["date"]
            return {"ok": True, "result": result}
        if call.api_method == "deleteMessage":
            refused = self._delete(call.json.get("chat_id"), call.json.get("message_id"))
            return {"ok": False, "error_code": 400, "description": refused} if refused else {"ok": True, "result": True}
        if call.api_method == "deleteMessages":
            ids = call.json.get("message_ids")
            if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
                return {"ok": False, "error_code": 400, "description": "Bad Request: message_ids must hold 1-100 ids"}
            for message_id in ids:  # messages that can't be deleted are skipped, as Telegram does
                self._delete(call.json.get("chat_id"), message_id)
            return {"ok": True, "result": True}
        if call.api_method == "sendDocument":
            return self._document(call)
        return {"ok": True, "result": True}

    def _delete(self, chat_id: Any, message_id: Any) -> str | None:
        """Deletes one message; the reason it can't be deleted, if so (Telegram's wording)."""
        messages = self.chats.get(chat_id, {})
        if message_id not in messages:
            return "Bad Request: message to delete not found"
        if time.time() - messages[message_id] > TELEGRAM_DELETE_SECONDS:
            return "Bad Request: message can't be deleted"
        del messages[message_id]
        return None

    def _document(self, call: Call) -> dict[str, Any]:
        """As the Bot API: a new file must come as multipart/form-data, with the chat id a field."""
        if "document" not in call.files or not call.json.get("chat_id"):
            return {"ok": False, "error_code": 400, "description": "Bad Request: there is no document in the request"}
        self._message_id += 1
        name, content = call.files["document"]
        chat = {"id": int(call.json["chat_id"]), "type": "private"}
        document = {"file_name": name, "file_size": len(content), "file_id": f"doc-{self._message_id}"}
        result = {"message_id": self._message_id, "date": int(time.time()), "chat": chat, "document": document}
        self.chats.setdefault(chat["id"], {})[self._message_id] = result["date"]
        return {"ok": True, "result": {**result, "caption": call.json.get("caption")}}


SLACK_BOT = {"bot_id": "B0SECONDLOOK", "user": "U0SECONDLOOK", "app_id": "A0SECONDLOOK"}


class SlackStandIn(StandIn):
    """The Web API: `POST /api/chat.postMessage` answered with {"ok": true, "ts": ...}.

    It keeps every conversation's messages (the bot's as it posts them, the person's as the test reports
    them with `user_posted`): conversations.history and conversations.replies read them back in pages,
    and chat.delete really deletes, under Slack's rule (an app deletes only its own messages)."""

    def __init__(self, page_size: int = 3) -> None:
        super().__init__()
        self._count = 0
        self.page_size = page_size  # small, so that the bot must follow the cursor
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, oldest first
        self.lengths: dict[str, int] = {}
        self.uploaded: dict[str, bytes] = {}

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/api/"

    def user_posted(self, channel: str, user: str, ts: str, thread_ts: str | None = None) -> None:
        with self._lock:
            self._keep(channel, {"user": user, "ts": ts, "thread_ts": thread_ts})

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for message in self.conversations.get(channel, [])]

    def answer(self, call: Call) -> dict[str, Any]:
        channel = call.json.get("channel")
        if call.api_method == "conversations.history":
            parents = [message for message in self.conversations.get(channel, []) if self._top_level(message)]
            return self._page(channel, list(reversed(parents)), call.json.get("cursor"))  # newest first, as Slack
        if call.api_method == "conversations.replies":
            thread = [message for message in self.conversations.get(channel, []) if self._in_thread(message, call)]
            return self._page(channel, thread, call.json.get("cursor"))
        if call.api_method == "chat.delete":
            return self._delete(channel, call.json.get("ts"))
        self._count += 1
        if call.path.startswith("/upload/"):  # the upload URL files.getUploadURLExternal gave out
            self.uploaded[call.path.rsplit("/", 1)[-1]] = call.body
            return {"ok": True}
        if call.api_method == "files.getUploadURLExternal":
            return self._upload_url(call)
        if call.api_method == "files.completeUploadExternal":
            return self._complete_upload(call)
        ts = f"{int(time.time())}.{self._count:06d}"
        if call.api_method == "chat.postMessage":
            posted = {**SLACK_BOT, "ts": ts, "thread_ts": call.json.get("thread_ts"), "text": call.json.get("text")}
            self._keep(channel, posted)
        return {"ok": True, "channel": channel, "ts": ts}

    def _keep(self, channel: str, message: dict[str, Any]) -> None:
        self.conversations.setdefault(channel, []).append({key: value for key, value in message.items() if value})

    @staticmethod
    def _top_level(message: dict[str, Any]) -> bool:
        return message.get("thread_ts") in (None, message["ts"])

    @staticmethod
    def _in_thread(message: dict[str, Any], call: Call) -> bool:
        return call.json.get("ts") in (message["ts"], message.get("thread_ts"))

    def _page(self, channel: str, messages: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
        start = int(cursor or 0)
        page = [dict(message) for message in messages[start : start + self.page_size]]
        everything = self.conversations.get(channel, [])
        for message in page:  # parents carry their reply count, as Slack's history does
            replies = [other for other in everything if other.get("thread_ts") == message["ts"] != other["ts"]]
            if replies:
                message["reply_count"] = len(replies)
        more = start + self.page_size < len(messages)
        next_cursor = str(start + self.page_size) if more else ""
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": {"next_cursor": next_cursor}}

    def _delete(self, channel: str, ts: Any) -> dict[str, Any]:
        messages = self.conversations.get(channel, [])
        found = next((message for message in messages if message["ts"] == ts), None)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        if found.get("bot_id") != SLACK_BOT["bot_id"]:
            return {"ok": False, "error": "cant_delete_message"}
        messages.remove(found)
        return {"ok": True, "channel": channel, "ts": ts}

    def _upload_url(self, call: Call) -> dict[str, Any]:
        """As the Web API: form fields `filename` and `length` (the method takes no JSON)."""
        if not call.json.get("filename") or not str(call.json.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{self._count:08d}"
        self.lengths[file_id] = int(call.json["length"])
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, call: Call) -> dict[str, Any]:
        """Completes uploads whose bytes arrived, with the announced length, and shares them."""
        try:
            files = json.loads(call.json.get("files") or "[]")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        for item in files:
            content = self.uploaded.get(item.get("id"))
            if content is None or len(content) != self.lengths.get(item.get("id")):
                return {"ok": False, "error": "file_upload_size_mismatch" if content else "file_not_found"}
        return {"ok": True, "files": [{"id": item["id"], "title": item.get("title")} for item in files]}


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

"""The web chat: Rasa's socket.io channel plus the chat page at `/chat/`, from one input channel.

Keyed in credentials.yml by module path (`channels.webchat.WebChatInput`); it replaces the stock
`socketio` entry (two channels cannot both own `/socket.io`). Compared with the stock channel it

- serves the built widget (`web/dist/`) at `/chat/` with a strict Content-Security-Policy, so the page
  and the socket share one origin and no extra process is needed;
- restricts socket.io's CORS / WebSocket origin check to the page's own origin plus configured origins
  (the stock channel disables the check: any web site could drive the bot in a visitor's browser);
- awaits `enter_room` when python-socketio makes it a coroutine (>= 5.10), the bug that breaks
  `session_persistence` there;
- issues session ids itself (32 hex digits: 64 random bits and their HMAC under a server key), and
  resumes only ids it issued, so a client can neither pick nor guess one; ignores malformed messages;
- cleans each message like every channel, answers an empty or too long one politely without running
  a turn, limits each session's rate, and answers a failed turn honestly (channels/guard.py);
- limits by client address too (channels/guard.py `AddressLimit`): each connection and each message
  counts, so a flood that opens new sockets or sessions is refused; one socket may request at most
  `max_sessions_per_socket` sessions (more is a script: it is disconnected), and a message's metadata
  is capped as on REST (a larger one is answered politely, and neither it nor the message is stored).

The session key is `SECONDLOOK_SESSION_KEY` (set the same on every replica), else one generated once
into `var/session_key`.

Options (credentials.yml, each with an environment default):

| key | env | default |
|---|---|---|
| `allowed_origins` | `SECONDLOOK_ALLOWED_ORIGINS` (comma-separated) | none: same origin only |
| `frame_ancestors` | `SECONDLOOK_FRAME_ANCESTORS` (space-separated CSP sources) | `'self'` |
| `connect_sources` | `SECONDLOOK_CONNECT_SOURCES` (space-separated CSP sources) | none: `'self'` only |
| `static_dir` | `SECONDLOOK_WEBCHAT_DIR` | `<project>/web/dist` |
| `chat_path` | - | `/chat` |
| `max_sessions_per_socket` | `SECONDLOOK_WEBCHAT_MAX_SESSIONS_PER_SOCKET` | 10 |

plus every option of Rasa's socket.io channel (`user_message_evt`, `bot_message_evt`, `namespace`,
`session_persistence`, `socketio_path`, `jwt_key`, `jwt_method`, `metadata_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import mimetypes
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import rasa.core.channels.channel
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from channels.guard import MAX_METADATA_BYTES, AddressLimit, RateLimiter, answer_turn, clean_text, texts
from channels.rasa_patches import apply as apply_rasa_patches
from secondlook.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_STATIC_DIR = PROJECT_ROOT / "web" / "dist"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
SESSION_KEY_FILE = PROJECT_ROOT / "var" / "session_key"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# A page asks for one session when it connects, and again only to start over: ten is a person's
# fill, thousands (one socket once opened 16,000 in 6 s) a script.
DEFAULT_MAX_SESSIONS_PER_SOCKET = 10
NOT_BUILT = "The web chat is not built. Run: cd web && npm ci --no-audit --no-fund && npm run build\n"


def _split(value: str | Iterable[str] | None, separator: str | None) -> list[str]:
    """A list from a YAML list or a separated string (environment variables), blanks dropped."""
    if value is None:
        return []
    items = value.split(separator) if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` in lower case, as browsers send it in the Origin header."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) origin: {origin!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def request_origin(environ: dict[str, Any]) -> str | None:
    """The origin the socket.io request was addressed to (the page's own origin when same-origin)."""
    host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST")
    if not host:
        return None
    scheme = (environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme") or "http").split(",")[0]
    return f"{scheme.strip()}://{host.split(',')[0].strip()}".lower()


class OriginCheck:
    """socket.io's `cors_allowed_origins` callable: the request's own origin plus the configured ones."""

    def __init__(self, allowed: Iterable[str]):
        self.allowed = frozenset(normalise_origin(origin) for origin in allowed)

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if not origin:
            return False
        origin = origin.lower()
        return origin in self.allowed or origin == request_origin(environ or {})


def content_security_policy(frame_ancestors: list[str], connect_sources: list[str]) -> str:
    """No inline code, nothing from elsewhere: the page loads only its own script and stylesheet."""
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *connect_sources],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": frame_ancestors or ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def session_key() -> bytes:
    """The key that signs session ids: SECONDLOOK_SESSION_KEY, else var/session_key (made once, 0600)."""
    configured = os.environ.get("SECONDLOOK_SESSION_KEY", "").strip()
    if configured:
        return configured.encode()
    if not SESSION_KEY_FILE.exists():
        # Written aside, then linked into place: two servers starting at once agree on one key.
        SESSION_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        draft = SESSION_KEY_FILE.with_name(f".session_key.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as key_file:
            key_file.write(secrets.token_hex(32))
        try:
            os.link(draft, SESSION_KEY_FILE)
        except FileExistsError:
            pass  # another server was first: use its key
        finally:
            draft.unlink()
    return SESSION_KEY_FILE.read_text().strip().encode()


class SessionIds:
    """Session ids the server makes and recognises: 16 random hex digits + 16 of their HMAC."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _tag(self, random_part: str) -> str:
        return hmac.new(self.key, random_part.encode(), hashlib.sha256).hexdigest()[:16]

    def new(self) -> str:
        random_part = secrets.token_hex(8)
        return random_part + self._tag(random_part)

    def issued(self, session_id: Any) -> bool:
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            return False
        return hmac.compare_digest(self._tag(session_id[:16]), session_id[16:])


class ChatSocketBlueprint(SocketBlueprint):
    """Attaches socket.io at its path and the chat page's routes at `chat_path`, outside the webhook prefix."""

    def __init__(self, sio: AsyncServer, socketio_path: str, page: Blueprint, *args: Any, **kwargs: Any) -> None:
        super().__init__(sio, socketio_path, *args, **kwargs)
        self.ctx.page = page

    def register(self, app: Any, options: dict[str, Any]) -> None:
        super().register(app, options)
        app.blueprint(self.ctx.page)


class WebChatInput(SocketIOInput):
    """Rasa's socket.io channel with origin checks, plus the chat page."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        credentials = credentials or {}
        env = os.environ
        origins = credentials.get("allowed_origins", env.get("SECONDLOOK_ALLOWED_ORIGINS"))
        ancestors = credentials.get("frame_ancestors", env.get("SECONDLOOK_FRAME_ANCESTORS"))
        connect = credentials.get("connect_sources", env.get("SECONDLOOK_CONNECT_SOURCES"))
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=credentials.get("session_persistence", True),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            jwt_key=credentials.get("jwt_key") or None,
            jwt_method=credentials.get("jwt_method", "HS256"),
            metadata_key=credentials.get("metadata_key", "metadata"),
            allowed_origins=_split(origins, ","),
            frame_ancestors=_split(ancestors, None) or ["'self'"],
            connect_sources=_split(connect, None),
            static_dir=Path(credentials.get("static_dir") or env.get("SECONDLOOK_WEBCHAT_DIR") or DEFAULT_STATIC_DIR),
            chat_path=credentials.get("chat_path", "/chat"),
            max_sessions_per_socket=int(
                credentials.get("max_sessions_per_socket")
                or env.get("SECONDLOOK_WEBCHAT_MAX_SESSIONS_PER_SOCKET")
                or DEFAULT_MAX_SESSIONS_PER_SOCKET
            ),
        )

    def __init__(
        self,
        *,
        allowed_origins: Iterable[str] = (),
        frame_ancestors: Iterable[str] = ("'self'",),
        connect_sources: Iterable[str] = (),
        static_dir: Path = DEFAULT_STATIC_DIR,
        chat_path: str = "/chat",
        max_sessions_per_socket: int = DEFAULT_MAX_SESSIONS_PER_SOCKET,
        **socketio_options: Any,
    ) -> None:
        super().__init__(**socketio_options)
        self.origin_check = OriginCheck(allowed_origins)
        self.csp = content_security_policy(list(frame_ancestors), list(connect_sources))
        self.static_dir = Path(static_dir)
        self.chat_path = "/" + chat_path.strip("/")
        self.limiter = RateLimiter()
        self.addresses = AddressLimit()
        self.max_sessions_per_socket = max_sessions_per_socket
        self.sockets: dict[str, SocketState] = {}  # this process's open connections, by socket id

    def url_prefix(self) -> str:
        # Rasa joins this onto "/webhooks/" with urljoin: an absolute path puts the page at /chat/.
        return self.chat_path

    # --- the page -------------------------------------------------------------------------------

    def _static_files(self) -> dict[str, Path]:
        """The built files by name: a fixed list, so no request path ever reaches the file system."""
        if not self.static_dir.is_dir():
            logger.warning(NOT_BUILT.strip())
            return {}
        return {path.name: path for path in self.static_dir.iterdir() if path.is_file()}

    def _headers(self, name: str = "") -> dict[str, str]:
        """Security headers for a served file (`name`), or for a redirect or error (no name)."""
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }
        if name.endswith(".html"):
            headers["Content-Security-Policy"] = self.csp
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        elif name:
            headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # the widget script loads on other sites
        return headers

    def _serve(self, files: dict[str, Path], name: str) -> HTTPResponse:
        path = files.get(name)
        if path is None:
            status, text = (404, "Not found\n") if files else (503, NOT_BUILT)
            return response.text(text, status=status, headers=self._headers())
        content_type = STATIC_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return response.raw(path.read_bytes(), content_type=content_type, headers=self._headers(name))

    def page_blueprint(self) -> Blueprint:
        files = self._static_files()
        page = Blueprint("webchat_page")
        base = self.chat_path

        @page.route(base, methods=["GET"], name="webchat_redirect")
        async def redirect(_: Request) -> HTTPResponse:
            return response.redirect(f"{base}/", headers=self._headers())

        @page.route(f"{base}/", methods=["GET"], name="webchat_index", strict_slashes=True)
        async def index(_: Request) -> HTTPResponse:
            return self._serve(files, "index.html")

        @page.route(f"{base}/<name:str>", methods=["GET"], name="webchat_file")
        async def file(_: Request, name: str) -> HTTPResponse:
            return self._serve(files, name)

        return page

    # --- the socket -----------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        session_ids = SessionIds(session_key())
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.origin_check)
        self.sio = sio
        socketio_webhook = ChatSocketBlueprint(sio, self.socketio_path, self.page_blueprint(), "webchat_socket")
        apply_rasa_patches(socketio_webhook)

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict, auth: dict | None) -> bool:
            address = self.addresses.of_environ(environ)
            if not self.addresses.allow(address):
                logger.warning("Refused a socket.io connection: its address is over the rate limit.")
                return False
            self.sockets[sid] = SocketState(address)
            if not self.jwt_key:
                return True
            token = (auth or {}).get("token")
            payload = None
            if token:
                payload = rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
            if not payload:
                logger.debug(f"Refused socket.io connection {sid}: missing or invalid token.")
                self.sockets.pop(sid, None)
                return False
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str, *_reason: Any) -> None:
            self.sockets.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            state = self.sockets.get(sid)
            if state is None or state.sessions >= self.max_sessions_per_socket:
                logger.warning("Disconnected a socket.io connection that asked for too many sessions.")
                await sio.disconnect(sid, namespace=self.namespace)
                return
            state.sessions += 1
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if session_ids.issued(requested) else session_ids.new()
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine from python-socketio 5.10 on
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                return
            if self.session_persistence:
                session_id = data.get("session_id")
                if not (isinstance(session_id, str) and SESSION_ID.match(session_id)):
                    logger.warning("Ignored a socket.io message without a valid session_id.")
                    return
                if session_id not in sio.rooms(sid, namespace=self.namespace):
                    logger.warning("Ignored a socket.io message for a session this socket did not request.")
                    return
                sender_id = session_id
            else:
                sender_id = sid
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            state = self.sockets.get(sid)
            if state is None:
                return
            if not self.addresses.allow(state.address) or not self.limiter.allow(sender_id):
                await output_channel.send_text_message(sender_id, texts()["slow_down"])
                return
            metadata = _metadata(data.get(self.metadata_key))
            if metadata is None:
                await output_channel.send_text_message(sender_id, texts()["metadata_too_large"])
                return
            cleaned = clean_text(data["message"])
            if cleaned.problem:
                await output_channel.send_text_message(sender_id, cleaned.reply)
                return
            message = UserMessage(cleaned.text, output_channel, sender_id, input_channel=self.name(), metadata=metadata)
            await answer_turn(on_new_message, message)

        return socketio_webhook


class SocketState:
    """What the server keeps about one open socket: its client's address, the sessions it asked for."""

    __slots__ = ("address", "sessions")

    def __init__(self, address: str) -> None:
        self.address = address
        self.sessions = 0


def _metadata(raw: Any) -> dict[str, Any] | None:
    """A message's metadata as a dict ({} when absent or unreadable); None when it is over REST's cap."""
    if isinstance(raw, str):
        if len(raw) > MAX_METADATA_BYTES:
            return None
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict) or not raw:
        return {}
    return raw if len(json.dumps(raw)) <= MAX_METADATA_BYTES else None

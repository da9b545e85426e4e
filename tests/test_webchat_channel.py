"""The web chat channel in process, without a server or a browser: which origins may open a socket, the
options it reads from credentials.yml and the environment, and the optional JWT on every socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import jwt
import pytest
from rasa.core.channels.channel import UserMessage

from channels.webchat import OriginCheck, WebChatInput

T = TypeVar("T")


def test_the_origin_check_allows_the_own_origin_and_configured_ones_only():
    check = OriginCheck(["https://Clinic.example.org/", "http://localhost:8000"])
    own = {"HTTP_HOST": "bot.example.org", "wsgi.url_scheme": "https"}
    assert check("https://bot.example.org", own)
    assert check("https://clinic.example.org", own) and check("http://localhost:8000", own)
    assert not check("http://bot.example.org", own)  # another scheme is another origin
    assert not check("https://evil.example", own) and not check(None, own) and not check("null", own)
    behind_proxy = {
        "HTTP_HOST": "10.0.0.5:5005",
        "HTTP_X_FORWARDED_HOST": "bot.example.org",
        "wsgi.url_scheme": "https",
    }
    assert check("https://bot.example.org", behind_proxy)
    with pytest.raises(ValueError):
        OriginCheck(["*"])


def test_the_channel_reads_its_options_from_credentials_and_the_environment(monkeypatch):
    monkeypatch.setenv("SECONDLOOK_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SECONDLOOK_FRAME_ANCESTORS", "'self' https://a.example")
    channel = WebChatInput.from_credentials({"session_persistence": True})
    assert channel.origin_check.allowed == {"https://a.example", "https://b.example"}
    assert "frame-ancestors 'self' https://a.example" in channel.csp
    assert channel.url_prefix() == "/chat" and channel.session_persistence
    configured = WebChatInput.from_credentials({"allowed_origins": ["https://c.example"], "frame_ancestors": "'none'"})
    assert configured.origin_check.allowed == {"https://c.example"}
    assert configured.csp.endswith("frame-ancestors 'none'")


SECRET = "a-test-secret-of-32-bytes-or-more"


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a fresh loop in another thread: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_with_a_jwt_key_only_sockets_with_a_valid_token_connect():
    channel = WebChatInput.from_credentials({"jwt_key": SECRET, "jwt_method": "HS256"})

    async def on_new_message(_: UserMessage) -> None:
        pass

    channel.blueprint(on_new_message)
    connect = channel.sio.handlers["/"]["connect"]
    valid = jwt.encode({"sub": "web", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    expired = jwt.encode({"sub": "web", "exp": int(time.time()) - 60}, SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "web"}, "another-secret-of-32-bytes-or-more", algorithm="HS256")
    assert run_coroutine(connect("sid-1", {}, {"token": valid})) is True
    assert run_coroutine(connect("sid-2", {}, {"token": expired})) is False
    assert run_coroutine(connect("sid-3", {}, {"token": forged})) is False
    assert run_coroutine(connect("sid-4", {}, None)) is False

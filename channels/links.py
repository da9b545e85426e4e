"""What the two channels behind signed links share (channels/preparation.py: the summary to take
along; channels/privacy.py: the copy of a user's data): an input channel without messages that serves
a document at `<path>/<token>.<format>`, read in a worker thread (database reads), with the same
refusals and headers, and runs one task when the server has started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'",
}


def open_link(
    token: str, suffixes: Container[str], verify: Callable[[str, float | None], Any], now: float | None
) -> tuple[Any, str] | HTTPResponse:
    """(what the signed stem names, the suffix) for a `<stem>.<suffix>`, or the refusal: 404 for an
    unknown suffix, 403 for a bad or expired signature."""
    stem, _, suffix = token.rpartition(".")
    if suffix not in suffixes:
        return response.text("Not found\n", status=404, headers=HEADERS)
    named = verify(stem, now)
    if named is None:
        return response.text("This link is not valid or has expired. Ask the assistant for a new one.\n",
                             status=403, headers=HEADERS)  # fmt: skip
    return named, suffix


def unavailable(text: str) -> HTTPResponse:
    """503: the document can't be read just now (a store is down)."""
    return response.text(text, status=503, headers=HEADERS)


def attachment(content: bytes, content_type: str, filename: str) -> HTTPResponse:
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return response.raw(content, content_type=content_type, headers=headers)


class LinkChannel(InputChannel):
    """Base of the link channels: the channel's name, `path` (absolute), the blueprint's and the
    route's names, `render` (blocking) and `after_start`."""

    channel_name = "links"  # the channel's name for Rasa
    path = "/"
    blueprint_name = "links"
    route_name = "document"

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> LinkChannel:
        return cls()

    def url_prefix(self) -> str:
        # Rasa joins this onto "/webhooks/" with urljoin: an absolute path puts the routes here.
        return self.path

    def render(self, request: Request, token: str) -> HTTPResponse:
        """The answer to `GET <path>/<token>`; runs in a worker thread."""
        raise NotImplementedError

    async def after_start(self, app: Any) -> None:
        """Runs once the server has started (the agent is loaded by then)."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        links = Blueprint(self.blueprint_name)

        @links.route("/<token:str>", methods=["GET"], name=self.route_name)
        async def document(request: Request, token: str) -> HTTPResponse:
            return await asyncio.get_running_loop().run_in_executor(None, self.render, request, token)

        async def after_start(app: Any, _loop: Any) -> None:
            await self.after_start(app)

        links.listener("after_server_start")(after_start)
        return links

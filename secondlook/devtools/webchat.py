"""Shared by the web chat's browser tests and the screenshot script: a bot with the web chat channel,
Debian's Chromium through Playwright, and a static server on another port for the embedding page."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright

from secondlook.devtools.servers import BotProcesses, free_port
from secondlook.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WEB_DIST = PROJECT_ROOT / "web" / "dist"
EMBED_EXAMPLE = PROJECT_ROOT / "web" / "examples"
EXAMPLE_SERVER_URL = "http://localhost:5005"  # what web/examples/embed.html points at

WEBCHAT_CREDENTIALS = """\
channels.rest.RestInput:
channels.webchat.WebChatInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
channels.privacy.PrivacyInput:
"""


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def start_webchat_bot(workdir: Path, allowed_origins: list[str]) -> BotProcesses:
    """Action + Rasa servers with the web chat channel, allowing `allowed_origins` besides its own."""
    if not (WEB_DIST / "index.html").exists():
        raise RuntimeError("web/dist is not built: cd web && npm ci --no-audit --no-fund && npm run build")
    credentials = workdir / "credentials.yml"
    credentials.write_text(WEBCHAT_CREDENTIALS)
    env = {"SECONDLOOK_ALLOWED_ORIGINS": ",".join(allowed_origins)}
    bot = BotProcesses(workdir, env=env, credentials=credentials).start()
    bot.say("webchat-warm-up", "hello")  # the first turn after a start is slow (the model warms up)
    return bot


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def example_site(bot_url: str, workdir: Path, port: int | None = None) -> Iterator[str]:
    """web/examples served by a plain http.server on another port, its embed page pointed at `bot_url`."""
    served = workdir / "example-site"
    served.mkdir(exist_ok=True)
    for path in EMBED_EXAMPLE.iterdir():
        text = path.read_text()
        if path.suffix == ".html":
            text = text.replace(EXAMPLE_SERVER_URL, bot_url)
        (served / path.name).write_text(text)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

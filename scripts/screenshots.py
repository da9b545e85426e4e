"""Takes the README's screenshots of the web chat (desktop and phone) against a real bot.

    .venv/bin/python scripts/screenshots.py      # needs web/dist built, a trained model and /usr/bin/chromium

Writes docs/screenshots/chat-desktop.png and docs/screenshots/chat-phone.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from secondlook.devtools.webchat import launch_chromium, start_webchat_bot
from secondlook.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "screenshots"
SIZES = {"chat-desktop.png": {"width": 1280, "height": 800}, "chat-phone.png": {"width": 390, "height": 780}}


def converse(page: Page, url: str) -> None:
    """A short, typical conversation: a doubt, a step done, a question about the next one."""
    page.goto(url)
    expect(page.locator(".sl-reply").first).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="I doubt my diagnosis").click()
    page.get_by_role("button", name="I've done this step").click()
    expect(page.locator('.sl-step[data-step="ask_doctor"]')).to_have_attribute("data-status", "done", timeout=30_000)
    page.locator(".sl-input").fill("How do I bring it up without offending my doctor?")
    page.locator(".sl-input").press("Enter")
    expect(page.locator(".sl-typing")).to_be_hidden(timeout=30_000)
    page.wait_for_timeout(1500)  # let the last replies arrive and the log scroll
    page.locator(".sl-input").blur()
    page.mouse.move(0, 0)  # no hover state in the picture


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="secondlook-shots-") as workdir:
        bot = start_webchat_bot(Path(workdir), [])
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for name, viewport in SIZES.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="en-US")
                    page = context.new_page()
                    converse(page, f"{bot.url}/chat/")
                    page.screenshot(path=str(OUT / name))
                    context.close()
                    print(f"wrote {OUT / name}")
                browser.close()
        finally:
            bot.stop()


if __name__ == "__main__":
    main()

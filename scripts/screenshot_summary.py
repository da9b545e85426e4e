"""Takes the screenshots of the preparation kit's summary against a real bot: the web chat offering
the downloads, the PDF (in Chromium's PDF viewer) and the Markdown (rendered as HTML).

    .venv/bin/python scripts/screenshot_summary.py   # needs web/dist built, a trained model and /usr/bin/chromium

Writes docs/screenshots/summary-chat.png, summary-pdf.png and summary-markdown.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import markdown
from playwright.sync_api import Page, expect, sync_playwright

from secondlook.devtools.servers import BotProcesses
from secondlook.devtools.webchat import launch_chromium
from secondlook.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "screenshots"
MARKDOWN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 760px; margin: 32px auto; color: #1d2733; }}
h1 {{ font-size: 26px; }} h2 {{ font-size: 20px; margin-top: 28px; border-bottom: 1px solid #d8dee4; }}
pre {{ background: #f4f6f8; padding: 12px; white-space: pre-wrap; font-size: 13px; }}
ul {{ list-style: none; padding-left: 4px; }}
</style></head><body>{body}</body></html>"""


def say(page: Page, text: str, expected: str) -> None:
    page.locator(".sl-input").fill(text)
    page.locator(".sl-input").press("Enter")
    expect(page.get_by_text(expected).last).to_be_visible(timeout=60_000)


def click(page: Page, title: str, expected: str) -> None:
    page.get_by_role("button", name=title).last.click()
    expect(page.get_by_text(expected).last).to_be_visible(timeout=60_000)


def prepare(page: Page, url: str) -> None:
    """A short preparation: a step done, the question list, an own question, the appointment, the summary."""
    page.goto(url)
    expect(page.locator(".sl-reply").first).to_be_visible(timeout=60_000)
    click(page, "I doubt my diagnosis", "Step 1 of 5")
    click(page, "I've done this step", "ticked off step 1")
    say(page, "what questions should I ask the oncologist about the surgery they proposed?", "already had the second")
    click(page, "Not yet", "Here are questions")
    click(page, "Add my own question", "What would you like to ask?")
    say(page, "Can my partner come along to the appointment?", "Added to your list")
    say(page, "I see the specialist next Tuesday", "Would you like me to check in")
    click(page, "Yes, check in with me", "I'll check in on")
    say(page, "download my summary", "Your summary is ready")
    expect(page.locator("a.sl-download").first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1000)
    page.locator(".sl-input").blur()
    page.mouse.move(0, 0)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="secondlook-summary-shots-") as workdir:
        bot = BotProcesses(Path(workdir)).start()
        try:
            bot.say("screenshot-warm-up", "hello")
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
                page = context.new_page()
                prepare(page, f"{bot.url}/chat/")
                page.screenshot(path=str(OUT / "summary-chat.png"))

                pdf_url = page.locator("a.sl-download", has_text="PDF").get_attribute("href")
                markdown_url = page.locator("a.sl-download", has_text="Markdown").get_attribute("href")
                pdf_file = Path(workdir) / "summary.pdf"
                pdf_file.write_bytes(page.request.get(pdf_url).body())
                viewer = context.new_page()
                viewer.set_viewport_size({"width": 1000, "height": 1200})
                viewer.goto(pdf_file.as_uri())
                viewer.wait_for_timeout(4000)  # the PDF viewer renders asynchronously
                viewer.screenshot(path=str(OUT / "summary-pdf.png"))

                body = markdown.markdown(page.request.get(markdown_url).text(), extensions=["fenced_code"])
                rendered = context.new_page()
                rendered.set_viewport_size({"width": 1000, "height": 1400})
                rendered.set_content(MARKDOWN_PAGE.format(body=body))
                rendered.screenshot(path=str(OUT / "summary-markdown.png"))
                browser.close()
            for name in ("summary-chat.png", "summary-pdf.png", "summary-markdown.png"):
                print(f"wrote {OUT / name}")
        finally:
            bot.stop()


if __name__ == "__main__":
    main()

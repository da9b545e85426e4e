"""The web chat in a real browser: Debian's Chromium (headless, through Playwright) against real Rasa
and action servers with the web chat channel. One bot and one browser per module; every test gets a
fresh browser context, so a fresh localStorage and a new conversation."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, Response, expect, sync_playwright

from secondlook.devtools.servers import BotProcesses, free_port
from secondlook.devtools.webchat import example_site, launch_chromium, start_webchat_bot
from secondlook.paths import PROJECT_ROOT

expect.set_options(timeout=20_000)

DISCLAIMER = "not a doctor"
GREETING = "Hi, I'm SecondLook"
STORAGE_KEY_PREFIX = "secondlook-chat:"
PRIVATE_DETAILS = "Dr Hallworth told me I have sarcoidosis of the lungs and I really doubt that diagnosis"


@pytest.fixture(scope="module")
def embed_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, embed_port) -> Iterator[BotProcesses]:
    processes = start_webchat_bot(tmp_path_factory.mktemp("webchat"), [f"http://127.0.0.1:{embed_port}"])
    try:
        yield processes
    finally:
        processes.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    """A page in a fresh context; any uncaught JS error or console error fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    new_page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    yield new_page
    context.close()
    assert errors == []


# --- helpers -------------------------------------------------------------------------------------


def open_chat(page: Page, url: str) -> Response:
    """Opens the chat and waits for the opening messages (disclaimer, greeting with quick replies)."""
    response = page.goto(url)
    assert response is not None and response.ok
    expect(bot_messages(page).filter(has_text=DISCLAIMER)).to_have_count(1)
    expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)
    expect(page.locator(".sl-reply").first).to_be_visible()
    return response


def bot_messages(page: Page) -> Locator:
    return page.locator(".sl-message--bot .sl-text")


def user_messages(page: Page) -> Locator:
    return page.locator(".sl-message--user .sl-text")


def send(page: Page, text: str) -> None:
    page.locator(".sl-input").fill(text)
    page.locator(".sl-input").press("Enter")


def expect_bot_says(page: Page, text: str) -> None:
    expect(bot_messages(page).filter(has_text=text).last).to_be_visible()


def step(page: Page, step_id: str) -> Locator:
    return page.locator(f'.sl-step[data-step="{step_id}"]')


def focused(page: Page) -> str:
    """The focused element, described as `tag|text|aria role` for assertions."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return [e.tagName.toLowerCase(), (e.textContent || '').trim(), e.getAttribute('role') || ''].join('|'); }"
    )


def tab_to(page: Page, description: str, presses: int = 20, key: str = "Tab") -> None:
    """Presses Tab (or `key`) until the focused element's description starts with `description`."""
    for _ in range(presses):
        page.keyboard.press(key)
        if focused(page).startswith(description):
            return
    raise AssertionError(f"{description!r} never got the focus; last was {focused(page)!r}")


def browser_storage(page: Page) -> str:
    """Everything this origin keeps in the browser: localStorage, sessionStorage and cookies, as one text."""
    areas = page.evaluate(
        "() => JSON.stringify([localStorage, sessionStorage].map(area =>"
        " Object.keys(area).map(key => [key, area.getItem(key)])))"
    )
    return areas + json.dumps(page.context.cookies())


def stored_history(page: Page) -> dict:
    raw = page.evaluate(
        f"() => {{ const k = Object.keys(localStorage).find(k => k.startsWith('{STORAGE_KEY_PREFIX}'));"
        " return k ? localStorage.getItem(k) : null; }"
    )
    return json.loads(raw) if raw else {}


# --- the page and the server -------------------------------------------------------------------


def test_the_page_loads_without_errors_under_a_strict_content_security_policy(bot, page):
    response = open_chat(page, f"{bot.url}/chat/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator(".sl-status")).to_have_text("Connected")
    log = page.locator(".sl-log")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.locator(".sl-steps .sl-step")).to_have_count(5)
    first_time = page.locator(".sl-message--bot .sl-time").first
    expect(first_time).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    # the widget is one bundled script from the same origin: nothing else was loaded from anywhere
    scripts = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith(bot.url) for name in scripts), scripts


def test_only_the_built_files_are_served_and_other_origins_cannot_open_a_socket(bot, embed_port):
    assert requests.get(f"{bot.url}/chat", allow_redirects=False, timeout=10).headers["location"] == "/chat/"
    script = requests.get(f"{bot.url}/chat/secondlook-chat.js", timeout=10)
    assert script.ok and script.headers["content-type"].startswith("text/javascript")
    for path in ("/chat/..%2fcredentials.yml", "/chat/%2e%2e%2f%2e%2e%2fcredentials.yml", "/chat/missing.js"):
        assert requests.get(f"{bot.url}{path}", timeout=10).status_code == 404

    handshake = f"{bot.url}/socket.io/?EIO=4&transport=polling"
    allowed = [bot.url, f"http://127.0.0.1:{embed_port}"]
    for origin in allowed:
        answer = requests.get(handshake, headers={"Origin": origin}, timeout=10)
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
    refused = requests.get(handshake, headers={"Origin": "http://evil.example"}, timeout=10)
    assert refused.status_code == 400


# --- talking -------------------------------------------------------------------------------------


def test_a_typed_message_gets_an_answer_with_a_typing_indicator_and_timestamps(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    page.evaluate(
        "() => { const typing = document.querySelector('.sl-typing'); window.typingShown = false;"
        " new MutationObserver(() => { if (!typing.hidden) window.typingShown = true; })"
        ".observe(typing, { attributes: true }); }"
    )
    send(page, "i dont think my doctor got my diagnosis right")
    expect(user_messages(page).last).to_have_text("i dont think my doctor got my diagnosis right")
    expect_bot_says(page, "Step 1 of 5")
    expect(page.locator(".sl-typing")).to_be_hidden()
    assert page.evaluate("() => window.typingShown") is True
    expect(page.locator(".sl-message--user .sl-time").last).to_have_text(re.compile(r"^\d{1,2}:\d\d"))


def test_a_quick_reply_sends_its_payload_and_shows_its_title(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    page.get_by_role("button", name="I doubt my diagnosis").click()
    expect(user_messages(page).last).to_have_text("I doubt my diagnosis")
    expect_bot_says(page, "Step 1 of 5")
    # the greeting's replies are gone; the new message's replies are offered instead
    expect(page.get_by_role("button", name="Is a second opinion worth it?")).to_have_count(0)
    expect(page.get_by_role("button", name="I've done this step")).to_be_visible()


def test_an_indirect_crisis_gets_a_check_in_with_the_crisis_line_and_a_way_back(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    send(page, "some nights I hope I just won't wake up in the morning")
    expect_bot_says(page, "thoughts of suicide")
    expect_bot_says(page, "988")
    page.get_by_role("button", name="No, I'm safe. Back to where we were").click()
    expect_bot_says(page, "glad you're safe")
    expect(page.get_by_role("button", name="What's next for me?")).to_be_visible()


def test_the_stepper_shows_a_step_reported_done(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    expect(step(page, "ask_doctor")).to_have_attribute("data-status", "next")
    expect(page.locator(".sl-progress-summary")).to_contain_text("0 of 5 steps done")

    page.get_by_role("button", name="I doubt my diagnosis").click()
    expect(step(page, "ask_doctor")).to_have_attribute("data-status", "current")
    expect(step(page, "ask_doctor")).to_have_attribute("aria-current", "step")

    page.get_by_role("button", name="I've done this step").click()
    expect_bot_says(page, "ticked off step 1")
    expect(step(page, "ask_doctor")).to_have_attribute("data-status", "done")
    expect(step(page, "ask_doctor")).to_contain_text("done")  # the screen-reader label
    expect(page.locator(".sl-progress-summary")).to_contain_text("1 of 5 steps done")
    expect(step(page, "be_honest")).not_to_have_attribute("data-status", "todo")


def test_a_reload_keeps_the_conversation_and_its_server_side_session(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    page.get_by_role("button", name="I doubt my diagnosis").click()
    expect_bot_says(page, "Step 1 of 5")
    expect(step(page, "ask_doctor")).to_have_attribute("data-status", "current")
    session_id = stored_history(page)["sessionId"]
    before = bot_messages(page).all_inner_texts() + user_messages(page).all_inner_texts()

    page.reload()
    expect(bot_messages(page).filter(has_text="Step 1 of 5")).to_have_count(1)
    assert bot_messages(page).all_inner_texts() + user_messages(page).all_inner_texts() == before
    expect(step(page, "ask_doctor")).to_have_attribute("data-status", "current")  # the stepper is restored
    expect(page.get_by_role("button", name="I've done this step")).to_be_visible()  # and the last quick replies
    expect(page.locator(".sl-status")).to_have_text("Connected")

    # the server still knows this conversation (the same sender id over a new socket), and no new greeting
    send(page, "where am i with all this?")
    expect_bot_says(page, "Ask your doctor first (you are here)")
    assert stored_history(page)["sessionId"] == session_id
    expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)


def test_html_is_shown_as_text_from_the_user_and_from_the_bot(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    markup = '<img src=x onerror="window.pwned=1"><b>bold</b><script>window.pwned=2</script>'
    send(page, markup)
    expect(user_messages(page).last).to_have_text(markup)
    expect(bot_messages(page).nth(2)).to_be_visible()  # the bot answered

    # a bot message and quick replies carrying markup, through the same code path socket.io uses
    page.evaluate(
        """() => window.SecondLookChat.instance.receive({
            text: '<i>hi</i> see https://example.org/help?x=1. and javascript:alert(1)',
            quick_replies: [{ title: '<b>yes</b>', payload: '/affirm' }],
        })"""
    )
    expect(bot_messages(page).last).to_have_text("<i>hi</i> see https://example.org/help?x=1. and javascript:alert(1)")
    expect(page.get_by_role("button", name="<b>yes</b>")).to_be_visible()
    assert page.locator(".sl-log img, .sl-log b, .sl-log i, .sl-log script").count() == 0
    assert page.evaluate("() => window.pwned") is None
    links = bot_messages(page).last.locator("a")
    expect(links).to_have_count(1)  # only the http(s) URL became a link, without the sentence's full stop
    expect(links).to_have_attribute("href", "https://example.org/help?x=1")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")


def test_the_whole_flow_works_with_the_keyboard_only(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    page.locator("body").focus()
    tab_to(page, "button|I doubt my diagnosis")
    page.keyboard.press("Enter")
    expect_bot_says(page, "Step 1 of 5")
    assert focused(page).startswith("textarea")  # focus comes back to the message box

    page.keyboard.type("what's next?")
    page.keyboard.press("Enter")
    expect_bot_says(page, "Step 2 of 5")

    tab_to(page, "button|Menu", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("menu")).to_be_visible()
    assert focused(page) == "button|Start over|menuitem"
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_be_hidden()
    assert focused(page).startswith("button|Menu")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert focused(page) == "button|Delete my data|menuitem"
    page.keyboard.press("Enter")
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(user_messages(page).last).to_have_text("Delete my data")
    expect_bot_says(page, "Shall I delete everything?")
    tab_to(page, "button|No, keep it")
    page.keyboard.press("Enter")
    expect_bot_says(page, "haven't deleted anything")


def test_start_over_asks_first_then_starts_a_new_session_that_the_next_person_cannot_resume(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    send(page, "what can you do?")
    expect_bot_says(page, "five steps")
    session_id = stored_history(page)["sessionId"]
    other_tab = page.context.new_page()  # the same conversation open in another tab
    other_tab.goto(f"{bot.url}/chat/")
    expect(other_tab.locator(".sl-log")).to_contain_text("five steps")

    page.get_by_role("button", name="Menu").click()
    page.get_by_role("menuitem", name="Start over").click()
    offer = page.get_by_role("group", name="Start over")
    expect(offer).to_contain_text("whoever uses it next won't see it")
    assert focused(page) == "button|Start a new conversation|"
    offer.get_by_role("button", name="Keep this one").click()  # asking wipes nothing
    expect(offer).to_have_count(0)
    expect(user_messages(page)).to_have_text(["what can you do?"])
    assert stored_history(page)["sessionId"] == session_id

    page.get_by_role("button", name="Menu").click()
    page.get_by_role("menuitem", name="Start over").click()
    page.get_by_role("button", name="Start a new conversation").click()
    expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)  # the bot opens a new conversation
    expect(bot_messages(page).filter(has_text="five steps")).to_have_count(0)
    expect(user_messages(page)).to_have_count(0)
    history = stored_history(page)
    assert re.fullmatch(r"[0-9a-f]{32}", history["sessionId"]) and history["sessionId"] != session_id
    assert [message["text"] for message in history["messages"]] == bot_messages(page).all_inner_texts()
    expect(other_tab.locator(".sl-notice")).to_contain_text("closed in another window")  # it let go too
    expect(other_tab.locator(".sl-log")).not_to_contain_text("five steps")
    other_tab.close()

    page.reload()  # the next person at this computer
    expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)
    expect(bot_messages(page).filter(has_text="five steps")).to_have_count(0)
    assert "what can you do?" not in browser_storage(page) and session_id not in browser_storage(page)


def test_delete_my_data_leaves_nothing_of_the_conversation_on_the_page_or_in_the_browser(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    send(page, PRIVATE_DETAILS)
    expect(page.locator(".sl-message--user ~ .sl-message--bot")).not_to_have_count(0)  # answered
    session_id = stored_history(page)["sessionId"]
    assert "Hallworth" in browser_storage(page) and "sarcoidosis" in browser_storage(page)
    other_tab = page.context.new_page()  # the same conversation open in another tab
    other_tab.goto(f"{bot.url}/chat/")
    expect(other_tab.locator(".sl-log")).to_contain_text("Hallworth")

    page.get_by_role("button", name="Menu").click()
    page.get_by_role("menuitem", name="Delete my data").click()
    expect_bot_says(page, "Shall I delete everything?")
    expect(other_tab.locator(".sl-log")).to_contain_text("Shall I delete everything?")  # one session, two tabs
    page.get_by_role("button", name="Yes, delete everything").click()
    expect_bot_says(page, "deleted your journey progress")
    expect(page.locator(".sl-notice")).to_contain_text("Cleared from this device")
    expect(user_messages(page)).to_have_count(0)
    expect(page.locator(".sl-log")).not_to_contain_text("Hallworth")
    expect(other_tab.locator(".sl-log")).not_to_contain_text("Hallworth")  # the other tab let go too
    other_tab.close()
    expect(page.locator(".sl-status")).to_have_text("Connected")
    expect_new_session(page, session_id)

    page.reload()
    expect_bot_says(page, "deleted your journey progress")
    expect(user_messages(page)).to_have_count(0)
    page_text = page.locator("body").inner_text()
    stored = browser_storage(page)
    for private in ("Hallworth", "sarcoidosis", "Shall I delete everything", session_id):
        assert private not in page_text and private not in stored, private
    assert stored_history(page)["sessionId"] != session_id

    # the new session is a real one: the bot answers it, and knows nothing of the old conversation
    send(page, "where am i with all this?")
    expect_bot_says(page, "0 of 5 steps done")


def expect_new_session(page: Page, old_session: str) -> str:
    """Waits until a new server-issued session id is stored; returns it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        session_id = stored_history(page).get("sessionId")
        if session_id and session_id != old_session:
            assert re.fullmatch(r"[0-9a-f]{32}", session_id)
            return session_id
        page.wait_for_timeout(100)
    raise AssertionError("no new session id was stored")


def test_my_data_is_offered_as_a_json_download(bot, page):
    open_chat(page, f"{bot.url}/chat/")
    page.get_by_role("button", name="I doubt my diagnosis").click()
    expect_bot_says(page, "Step 1 of 5")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("menuitem", name="What do you store about me?").click()
    expect_bot_says(page, "messages you wrote me")
    answer = next(text for text in bot_messages(page).all_inner_texts() if "messages you wrote me" in text)
    stated = int(re.search(r"the (\d+) messages you wrote me", answer).group(1))
    assert not any("stored_events" in text for text in bot_messages(page).all_inner_texts())  # no JSON wall
    link = page.get_by_role("link", name="Download my data (JSON)")
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(bot.url)}/chat/my-data/[A-Za-z0-9_=-]+\.json$"))
    download = page.request.get(link.get_attribute("href"))  # as the page's own origin fetches it
    assert download.status == 200
    assert download.headers["content-disposition"].startswith('attachment; filename="secondlook-my-data-')
    document = json.loads(download.body())
    said = [message["text"] for message in document["conversation"]["messages"] if message["from"] == "you"]
    assert len(said) == stated  # the answer counted what the tracker store holds (the question included)


def test_the_chat_fits_a_phone_screen(bot, page):
    page.set_viewport_size({"width": 360, "height": 740})
    open_chat(page, f"{bot.url}/chat/")
    page.get_by_role("button", name="I doubt my diagnosis").click()
    expect_bot_says(page, "Step 1 of 5")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    box = page.locator(".sl-form").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740 and box["width"] <= 360
    expect(page.locator(".sl-progress-summary")).to_contain_text("Now: Ask your doctor first")


# --- embedding -----------------------------------------------------------------------------------


def test_the_embed_snippet_works_from_a_page_on_another_port(bot, page, embed_port, tmp_path):
    with example_site(bot.url, tmp_path, port=embed_port) as site:
        page.goto(f"{site}/embed.html")
        expect(page.get_by_role("heading", name="Second-opinion helper")).to_be_visible()
        expect(page.locator(".sl-chat")).to_have_attribute("lang", "en-GB")
        expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)
        header_colour = page.locator(".sl-header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header_colour == "rgb(29, 92, 88)"  # the widget's stylesheet came along with the script

        send(page, "i dont think my doctor got my diagnosis right")
        expect_bot_says(page, "Step 1 of 5")
        expect(step(page, "ask_doctor")).to_have_attribute("data-status", "current")
        assert page.evaluate("() => location.origin") == site != bot.url


def test_an_embedding_site_can_keep_the_conversation_out_of_its_storage(bot, page, embed_port, tmp_path):
    with example_site(bot.url, tmp_path, port=embed_port) as site:
        embed = tmp_path / "example-site" / "embed.html"
        embed.write_text(embed.read_text().replace('data-locale="en-GB"', 'data-locale="en-GB" data-storage="none"'))
        page.goto(f"{site}/embed.html")
        expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)
        send(page, PRIVATE_DETAILS)
        expect(page.locator(".sl-message--user ~ .sl-message--bot")).not_to_have_count(0)
        stored = browser_storage(page)
        assert "sarcoidosis" not in stored and STORAGE_KEY_PREFIX not in stored  # the host site holds nothing
        page.reload()
        expect(bot_messages(page).filter(has_text=GREETING)).to_have_count(1)  # a new conversation
        expect(user_messages(page)).to_have_count(0)


def test_the_embed_example_points_at_the_documented_default_server():
    example = (PROJECT_ROOT / "web" / "examples" / "embed.html").read_text()
    assert 'src="http://localhost:5005/chat/secondlook-chat.js"' in example
    assert '<div id="secondlook-chat"' in example

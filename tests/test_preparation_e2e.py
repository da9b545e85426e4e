"""The preparation kit against real Rasa and action servers: the question list and letters in a
conversation, the summary download route, and check-ins that fire, can be cancelled and survive a
restart of the Rasa server. Check-ins come SECONDLOOK_CHECKIN_DELAY_SECONDS after they are accepted."""

import io
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from secondlook.devtools.servers import API_TOKEN, BotProcesses, reply_text
from secondlook.devtools.webchat import launch_chromium
from secondlook.facts import fact_question
from secondlook.progress_store import ProgressStore
from secondlook.questions import load_question_bank
from secondlook.summary import sign_token

CHECKIN_DELAY = 12
CHECKIN_QUESTION = "How did it go?"
DIFFERS = load_question_bank().labels["opinion"]["differs"]  # "the second opinion differs from the first"
WHAT_IF = "What if the new doctor tells me something totally different?"


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    processes = BotProcesses(
        tmp_path_factory.mktemp("preparation"), env={"SECONDLOOK_CHECKIN_DELAY_SECONDS": str(CHECKIN_DELAY)}
    )
    try:
        yield processes.start()
    finally:
        processes.stop()


def new_sender() -> str:
    return f"prep-{uuid.uuid4().hex}"


def store_of(bot) -> ProgressStore:
    return ProgressStore(f"sqlite:///{bot.workdir / 'progress.db'}")


def bot_texts(bot, sender: str) -> list[str]:
    """Every bot message of the conversation, as the tracker store has it (REST replies to a reminder
    go nowhere, so the tracker is where a check-in shows)."""
    tracker = requests.get(f"{bot.url}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=10)
    tracker.raise_for_status()
    return [event.get("text") or "" for event in tracker.json()["events"] if event["event"] == "bot"]


def checkins_sent(bot, sender: str) -> int:
    return sum(CHECKIN_QUESTION in text for text in bot_texts(bot, sender))


def wait_for_checkin(bot, sender: str, timeout: float) -> float:
    """Seconds until the check-in showed up; fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if checkins_sent(bot, sender):
            return time.monotonic() - start
        time.sleep(1)
    raise AssertionError(f"no check-in within {timeout:.0f} s")


def accept_checkin(bot, sender: str, said: str) -> None:
    offer = reply_text(bot.say(sender, said))
    assert "Would you like me to check in" in offer, offer
    assert "I'll check in on" in reply_text(bot.say(sender, "yes please"))


def test_questions_letters_and_summary_in_a_conversation(bot):
    sender = new_sender()
    bot.say(sender, "hi")
    reply = reply_text(bot.say(sender, "what questions should I ask the oncologist about the surgery they proposed?"))
    assert "Have you already had the second opinion?" in reply  # specialty and surgery were understood
    reply = reply_text(bot.say(sender, '/prepare_questions{"prep_opinion":"not_yet"}'))
    assert "oncology; surgery or a procedure was proposed" in reply
    assert "second pathologist" in reply

    assert "What would you like to ask?" in reply_text(bot.say(sender, "I want to add my own question"))
    assert "Added to your list" in reply_text(bot.say(sender, "Can my partner come along to the appointment?"))

    letter = reply_text(bot.say(sender, "write a letter to request my medical records"))
    assert "HIPAA" in letter and "30 days" in letter and "oncology" in letter and "[Your full name]" in letter

    summary = reply_text(bot.say(sender, "send me a summary to take along"))
    assert "Can my partner come along to the appointment?" in summary

    key = store_of(bot).user_key(sender)
    pdf = requests.get(f"{bot.url}/chat/summary/{sign_token(key)}.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Can my partner come along" in " ".join(text.split())
    markdown = requests.get(f"{bot.url}/chat/summary/{sign_token(key)}.md", timeout=30)
    assert markdown.status_code == 200 and markdown.text.startswith("# My second-opinion preparation")

    other = store_of(bot).user_key(new_sender())
    assert "Can my partner" not in requests.get(f"{bot.url}/chat/summary/{sign_token(other)}.md", timeout=30).text
    forged = sign_token(key)[:-4] + "AAAA"
    assert requests.get(f"{bot.url}/chat/summary/{forged}.pdf", timeout=30).status_code == 403


def situation_in_letter_and_summary(bot, sender: str) -> tuple[str, str]:
    """The referral letter as the chat sends it, and the summary: as the chat sends it and behind the
    user's download link (both in one text)."""
    letter = reply_text(bot.say(sender, "can you draft the referral request letter"))
    assert "Dear Dr [Doctor's name]" in letter, letter
    in_chat = reply_text(bot.say(sender, "send me a summary to take along"))
    assert "Questions to ask" in in_chat, in_chat
    token = sign_token(store_of(bot).user_key(sender))
    download = requests.get(f"{bot.url}/chat/summary/{token}.md", timeout=30)
    download.raise_for_status()
    return letter, " ".join(f"{in_chat}\n{download.text}".split()).lower()


def test_a_what_if_is_not_stated_as_the_users_situation_until_they_confirm_it(bot):
    """Issue 19: "what if ... totally different?" was stored as "the second opinion differs"."""
    sender = new_sender()
    parsed = bot.parse(WHAT_IF)
    assert parsed["intent"]["name"] == "opinions_differ"
    assert [entity["value"] for entity in parsed["entities"] if entity["entity"] == "mood"] == ["hypothetical"]

    reply = reply_text(bot.say(sender, WHAT_IF))
    assert fact_question("opinion", "differs") in reply  # after the advice for this step
    letter, summary = situation_in_letter_and_summary(bot, sender)
    assert DIFFERS not in letter and "My situation: [where things stand]." in letter
    assert DIFFERS not in summary

    reply = reply_text(bot.say(sender, WHAT_IF))
    assert fact_question("opinion", "differs") in reply
    assert "I've noted that the second opinion differs" in reply_text(bot.say(sender, "yes"))
    letter, summary = situation_in_letter_and_summary(bot, sender)
    assert f"My situation: {DIFFERS}." in letter
    assert DIFFERS in summary


@pytest.mark.parametrize(
    "said",
    [
        "my friend's second opinion came back totally different from her first",
        "the second opinion didn't differ at all",
        "is it common for the second opinion to differ?",
    ],
)
def test_other_peoples_stories_negations_and_questions_are_not_stated_either(bot, said):
    sender = new_sender()
    bot.say(sender, said)
    letter, summary = situation_in_letter_and_summary(bot, sender)
    assert DIFFERS not in letter and DIFFERS not in summary


def test_a_plain_statement_is_stated_without_a_question(bot):
    sender = new_sender()
    reply = reply_text(bot.say(sender, "the second opinion came back different"))
    assert fact_question("opinion", "differs") not in reply
    letter, summary = situation_in_letter_and_summary(bot, sender)
    assert f"My situation: {DIFFERS}." in letter
    assert DIFFERS in summary


def test_the_web_chat_offers_the_summary_as_pdf_and_markdown_downloads(bot):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{bot.url}/chat/")
            expect(page.locator(".sl-reply").first).to_be_visible(timeout=60_000)
            for said, answer in [
                ("I want to add my own question", "What would you like to ask?"),
                ("Should I get a second scan first?", "Added to your list"),
            ]:
                page.locator(".sl-input").fill(said)
                page.locator(".sl-input").press("Enter")
                expect(page.get_by_text(answer).last).to_be_visible(timeout=60_000)
            page.locator(".sl-input").fill("download my summary")
            page.locator(".sl-input").press("Enter")
            pdf_link = page.locator("a.sl-download", has_text="Download PDF")
            expect(pdf_link).to_be_visible(timeout=60_000)
            expect(page.locator("a.sl-download", has_text="Download Markdown")).to_be_visible()
            pdf = page.request.get(pdf_link.get_attribute("href"))
            assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
            text = " ".join(sheet.extract_text() for sheet in PdfReader(io.BytesIO(pdf.body())).pages)
            assert "Should I get a second scan first?" in " ".join(text.split())
        finally:
            browser.close()


def test_a_checkin_fires_and_a_cancelled_one_does_not(bot):
    kept, cancelled = new_sender(), new_sender()
    accept_checkin(bot, kept, "I see the specialist next Tuesday")
    accept_checkin(bot, cancelled, "my appointment with the cardiologist is on the 14th")
    assert "cancelled the check-in" in reply_text(bot.say(cancelled, "cancel the reminder"))
    assert store_of(bot).reminders(cancelled) == []

    waited = wait_for_checkin(bot, kept, timeout=CHECKIN_DELAY + 60)
    print(f"check-in arrived {waited:.1f} s after polling began (delay {CHECKIN_DELAY} s)")
    assert store_of(bot).reminders(kept) == []  # sent once, then gone
    time.sleep(5)
    assert checkins_sent(bot, kept) == 1
    assert checkins_sent(bot, cancelled) == 0


def test_a_checkin_survives_a_restart_of_the_rasa_server(bot):
    sender = new_sender()
    accept_checkin(bot, sender, "I'm seeing the neurologist in 3 days")
    bot.stop_rasa_server()  # the in-memory reminder is gone with the process
    bot.start_rasa_server()  # the stored one is scheduled again at start
    wait_for_checkin(bot, sender, timeout=CHECKIN_DELAY + 60)
    assert store_of(bot).reminders(sender) == []
    time.sleep(5)
    assert checkins_sent(bot, sender) == 1

"""The summary to take along: the journey so far, the user's situation, the questions for the
appointment and the letters, as Markdown, as a PDF, and as chat text; plus the signed, expiring links
under which the web chat offers the documents.

One document model (a list of blocks) renders to all three forms. It is built from what the progress
store keeps under the user's key, so the Rasa server can render it for a link without the
conversation.
"""

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fpdf import FPDF

from secondlook.appointments import date_text
from secondlook.deployment import link_secret
from secondlook.journey import Journey, Status, load_journey
from secondlook.letters import LETTER_KINDS, fill_letter
from secondlook.progress_store import ProgressStore
from secondlook.questions import QuestionBank, load_question_bank
from secondlook.replies import say

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_LINK_TTL_SECONDS = 3600
MAX_LINK_TTL_SECONDS = 86400  # whatever is configured: a link to health notes should not live for weeks
CLOCK_SKEW_SECONDS = 60  # between the action server that signs and the Rasa replica that verifies
# Where the Rasa server serves the documents (channels/preparation.py): <path>/<token>.pdf or .md
SUMMARY_PATH = "/chat/summary"
MARKDOWN_SPECIALS = "\\`*_{}[]<>#|"


@dataclass(frozen=True)
class Block:
    kind: str  # h1, h2, h3, p, item, check, done, letter
    text: str


def build_summary(
    journey: Journey,
    completed: list[str],
    current: str | None,
    bank: QuestionBank,
    situation: dict[str, str],
    own_questions: list[str],
    check_ins: list[dict],
    locale_code: str,
    today: date,
) -> list[Block]:
    blocks = [Block("h1", say("summary.title")), Block("p", f"{today:%d %B %Y}. {say('summary.disclaimer')}")]

    blocks.append(Block("h2", say("summary.where_i_am")))
    for step, status in journey.checklist(completed, current):
        note = {Status.CURRENT: say("summary.current_step"), Status.NEXT: say("summary.next_step")}.get(status, "")
        blocks.append(Block("done" if status is Status.DONE else "check", f"{step.number}. {step.title}{note}"))
    blocks.append(
        Block("p", say("summary.steps_done", done=len(journey.in_order(completed)), total=len(journey.steps)))
    )

    appointment = None
    if check_ins:
        appointment = date_text(date.fromisoformat(check_ins[0]["appointment_on"]))
        blocks.append(Block("h2", say("summary.appointment")))
        blocks.append(Block("p", say("summary.appointment_line", appointment=appointment)))

    described = bank.describe(situation)
    if described:
        blocks.append(Block("h2", say("summary.my_situation")))
        blocks.append(Block("p", described[0].upper() + described[1:] + "."))

    blocks.append(Block("h2", say("summary.questions")))
    for title, texts in bank.for_situation(situation):
        blocks.append(Block("h3", title))
        blocks.extend(Block("item", text) for text in texts)
    if own_questions:
        blocks.append(Block("h3", say("summary.own_questions")))
        blocks.extend(Block("item", text) for text in own_questions)

    blocks.append(Block("h2", say("summary.letters")))
    blocks.append(Block("p", say("summary.letters_note")))
    for kind in LETTER_KINDS:
        letter = fill_letter(kind, bank, situation, own_questions, locale_code, appointment)
        blocks.append(Block("h3", letter.title))
        blocks.append(Block("letter", letter.text))
    return blocks


def summary_for_key(store: ProgressStore, key: str, locale_code: str, today: date) -> list[Block]:
    """The summary of the user whose key is `key`, from the progress store."""
    completed, current = store.journey_by_key(key)
    journey = load_journey()
    return build_summary(
        journey,
        journey.in_order(completed),
        current,
        load_question_bank(),
        store.preparation_by_key(key),
        store.own_questions_by_key(key),
        store.reminders_by_key(key),
        locale_code,
        today,
    )


# --- rendering -------------------------------------------------------------------------------------


def _escape_markdown(text: str) -> str:
    return "".join(f"\\{char}" if char in MARKDOWN_SPECIALS else char for char in text)


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    numbered = 0
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            level = int(block.kind[1])
            lines += ["", f"{'#' * level} {_escape_markdown(block.text)}", ""]
        elif block.kind == "p":
            lines += ["", _escape_markdown(block.text), ""]
        elif block.kind in ("check", "done"):
            mark = "x" if block.kind == "done" else " "
            lines.append(f"- [{mark}] {_escape_markdown(block.text)}")
        elif block.kind == "item":
            numbered += 1
            lines.append(f"{numbered}. {_escape_markdown(block.text)}")
        elif block.kind == "letter":
            lines += ["", "```text", block.text, "```", ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def to_text(blocks: list[Block]) -> str:
    """For chats that show plain text: the journey, the situation and the questions (the letters are
    long and come on request)."""
    lines: list[str] = []
    numbered = 0
    for block in blocks:
        if block.kind == "h2" and block.text == say("summary.letters"):
            lines += ["", say("summary.letters_on_request")]
            break
        if block.kind == "h1":
            lines.append(block.text)
        elif block.kind in ("h2", "h3"):
            lines += ["", f"{block.text}:"]
        elif block.kind == "p":
            lines.append(block.text)
        elif block.kind in ("check", "done"):
            lines.append(f"{'✅' if block.kind == 'done' else '⬜'} {block.text}")
        elif block.kind == "item":
            numbered += 1
            lines.append(f"{numbered}. {block.text}")
    return "\n".join(lines).strip()


class _SummaryPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body_font, size=8)
        self.set_text_color(110)
        self.cell(0, 6, f"SecondLook · not medical advice · page {self.page_no()}", align="C")


def _latin1(text: str) -> str:
    replacements = {"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "•": "-", "·": "-", "…": "..."}
    text = "".join(replacements.get(char, char) for char in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(blocks: list[Block]) -> bytes:
    pdf = _SummaryPDF(format="A4")
    if (FONT_DIR / "DejaVuSans.ttf").exists():
        pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.body_font, clean = "DejaVu", str
    else:  # the PDF core fonts only know Latin-1
        pdf.body_font, clean = "Helvetica", _latin1
    pdf.set_title(say("summary.title"))
    pdf.set_creator("SecondLook")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    font = pdf.body_font
    numbered = 0

    def write(text: str, size: float, style: str = "", height: float = 6, indent: float = 0) -> None:
        pdf.set_font(font, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(pdf.epw - indent, height, clean(text), align="L", new_x="LMARGIN", new_y="NEXT")

    for block in blocks:
        if block.kind == "h1":
            write(block.text, 18, "B", 10)
        elif block.kind == "h2":
            pdf.ln(4)
            write(block.text, 14, "B", 8)
        elif block.kind == "h3":
            pdf.ln(1)
            write(block.text, 11.5, "B", 7)
        elif block.kind == "p":
            write(block.text, 10.5)
            pdf.ln(1)
        elif block.kind in ("check", "done"):
            write(f"[{'x' if block.kind == 'done' else ' '}] {block.text}", 10.5)
        elif block.kind == "item":
            numbered += 1
            write(f"{numbered}. {block.text}", 10.5, indent=2)
        elif block.kind == "letter":
            pdf.set_fill_color(244, 246, 248)
            pdf.set_font(font, "", 9.5)
            pdf.multi_cell(pdf.epw, 5, clean(block.text), fill=True, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())


# --- signed links ----------------------------------------------------------------------------------


def _signature(payload: str) -> str:
    digest = hmac.new(link_secret(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_ttl_seconds() -> int:
    return min(int(os.environ.get("SECONDLOOK_SUMMARY_LINK_TTL") or DEFAULT_LINK_TTL_SECONDS), MAX_LINK_TTL_SECONDS)


def sign_token(user_key: str, now: float | None = None, ttl: int | None = None) -> str:
    """A token naming one user's summary until it expires: `<key>.<expiry>.<signature>`."""
    expires = int((now if now is not None else time.time()) + (ttl if ttl is not None else link_ttl_seconds()))
    payload = f"{user_key}.{expires}"
    return f"{payload}.{_signature(payload)}"


def verify_token(token: str, now: float | None = None) -> str | None:
    """The user key a token names, or None if it was altered, forged, has expired, or claims to live
    longer than this server allows (a link is capped here too, not only where it is issued)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    key, expires, signature = parts
    if not hmac.compare_digest(signature, _signature(f"{key}.{expires}")):
        return None
    now = now if now is not None else time.time()
    if not now <= int(expires) <= now + link_ttl_seconds() + CLOCK_SKEW_SECONDS:
        return None
    return key

"""Records docs/transcript.md: a real conversation with the bot as `make run` serves it (both servers
started by secondlook/devtools/servers.py on a throw-away tracker store and progress database), over REST.

    SECONDLOOK_MODEL=models/secondlook-<hash>.tar.gz .venv/bin/python scripts/record_transcript.py

A turn is either typed text or a press of one of the buttons the bot's latest reply offered (by its
title): what a person would do. Machine-readable custom payloads (the stepper state) are left out.
"""

import tempfile
import uuid
from pathlib import Path

import requests

from secondlook.devtools.servers import BotProcesses
from secondlook.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "transcript.md"
PRESS = "button"
CONVERSATION = [
    "hi",
    "I'm not sure my diagnosis is right. The neurologist only saw me for ten minutes and didn't look at my old scans",
    "how do i even bring it up without offending him?",
    (PRESS, "Why?"),
    "spoke to him after the clinic on monday, he was fine with it",
    "what's next",
    (PRESS, "More tips"),
    "can the second doctor be at the same hospital?",
    "hi",
    "where am I?",
    "what if the new doctor tells me something totally different?",
    "how much ibuprofen can I take for the headaches?",
    "can i practise what i'll say to my doctor?",
]
HEADER = """# A real conversation

Recorded over the REST channel from the two servers that `make run` starts (here started by
`secondlook/devtools/servers.py`, through `scripts/record_transcript.py`); lines marked *button* are a
press of one of the buttons the bot offered. Buttons offered are shown in `[brackets]`.
"""


def render(messages: list[dict]) -> list[str]:
    lines = []
    for message in messages:
        if message.get("text"):
            lines += ["", *(f"> {line}" if line else ">" for line in message["text"].splitlines())]
        if message.get("buttons"):
            lines += ["", "> " + " ".join(f"`[{button['title']}]`" for button in message["buttons"])]
    return lines


def main() -> None:
    sender = f"transcript-{uuid.uuid4().hex[:8]}"
    lines = [HEADER]
    with tempfile.TemporaryDirectory(prefix="secondlook-transcript-") as tmp:
        bot = BotProcesses(Path(tmp)).start()
        try:
            offered: list[dict] = []
            for turn in CONVERSATION:
                if isinstance(turn, tuple):
                    title = turn[1]
                    button = next(b for b in offered if b["title"] == title)
                    sent, shown = button["payload"], f"*button* {title}"
                else:
                    sent = shown = turn
                reply = requests.post(
                    f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": sent}, timeout=60
                ).json()
                offered = [b for message in reply for b in message.get("buttons") or []]
                lines += ["", f"**You:** {shown}", *render(reply)]
        finally:
            bot.stop()
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written: {OUT}")


if __name__ == "__main__":
    main()

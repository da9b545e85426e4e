"""Building blocks of replies shared by several actions: the short texts of content/replies.yml, buttons
and the progress checklist text."""

import json

from secondlook.content import content
from secondlook.journey import Journey, Status, Step

STATUS_MARKS = {Status.DONE: "✅", Status.CURRENT: "👉", Status.NEXT: "➡️", Status.TODO: "⬜"}


def say(key: str, **values: object) -> str:
    """The text content/replies.yml holds under `key` ("journey.tally"), with its {placeholders} filled in."""
    section, _, name = key.partition(".")
    text = content("replies.yml")[section][name]
    return text.format(**values) if values else text


def intent_payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}" if entities else f"/{intent}"


def button(title: str, intent: str, **entities: str) -> dict:
    return {"title": title, "payload": intent_payload(intent, **entities)}


# The intents of the "Why?" and "More tips" buttons (and of a user who asks the same in words).
ADVICE_WHY = "advice_why"
ADVICE_MORE = "advice_more"


def step_buttons(step: Step, *, why: bool = True, more: bool = True) -> list[dict]:
    """Under a step's advice: the reasons and further tips on request, then "done" and "what's next"."""
    on_request = [(why, "buttons.why", ADVICE_WHY), (more, "buttons.more_tips", ADVICE_MORE)]
    return [
        *(button(say(title), intent) for wanted, title, intent in on_request if wanted),
        button(say("buttons.step_done"), "report_progress", journey_step=step.id),
        button(say("buttons.next_step"), "next_step"),
    ]


def checklist_text(journey: Journey, completed: list[str], current: str | None) -> str:
    rows = journey.checklist(completed, current)
    lines = [say("checklist.heading")]
    for step, status in rows:
        note = {Status.CURRENT: say("checklist.current"), Status.NEXT: say("checklist.next")}.get(status, "")
        lines.append(f"{STATUS_MARKS[status]} {step.number}. {step.title}{note}")
    done = sum(1 for _, status in rows if status is Status.DONE)
    lines.append(say("checklist.done_count", done=done, total=len(rows)))
    return "\n".join(lines)


def rehearsal_line(practised: list[dict]) -> str:
    """One line for the checklist about the role-plays done so far ("" when none)."""
    if not practised:
        return ""
    temperaments = sorted({item["temperament"] for item in practised})
    times = (
        say("checklist.practised_once")
        if len(practised) == 1
        else say("checklist.practised_times", count=len(practised))
    )
    return say("checklist.practised", times=times, doctors=", ".join(temperaments))


def custom_payload(kind: str, **fields) -> dict:
    """A machine-readable message for clients that can show more than text (the web chat).

    Wrapped in "data" because Rasa's socket.io channel passes the payload's keys to `emit`.
    Text-only channels ignore it; the same information is always in a text message too.
    """
    return {"data": {"type": kind, **fields}}


def progress_payload(journey: Journey, completed: list[str], current: str | None) -> dict:
    """The journey stepper's state: every step with its status."""
    return custom_payload(
        "journey_progress",
        steps=[
            {"id": step.id, "number": step.number, "title": step.title, "status": status.value}
            for step, status in journey.checklist(completed, current)
        ],
    )

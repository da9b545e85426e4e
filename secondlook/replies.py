"""Building blocks of replies shared by several actions: buttons and the progress checklist text."""

import json

from secondlook.journey import Journey, Status, Step

STATUS_MARKS = {Status.DONE: "✅", Status.CURRENT: "👉", Status.NEXT: "➡️", Status.TODO: "⬜"}
STATUS_NOTES = {Status.DONE: "", Status.CURRENT: " (you are here)", Status.NEXT: " (next)", Status.TODO: ""}


def intent_payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}" if entities else f"/{intent}"


def button(title: str, intent: str, **entities: str) -> dict:
    return {"title": title, "payload": intent_payload(intent, **entities)}


def step_buttons(step: Step) -> list[dict]:
    return [
        button("I've done this step", "report_progress", journey_step=step.id),
        button("What's next?", "next_step"),
        button("Where am I?", "ask_progress"),
    ]


def checklist_text(journey: Journey, completed: list[str], current: str | None) -> str:
    rows = journey.checklist(completed, current)
    lines = ["Your second-opinion journey:"]
    for step, status in rows:
        lines.append(f"{STATUS_MARKS[status]} {step.number}. {step.title}{STATUS_NOTES[status]}")
    done = sum(1 for _, status in rows if status is Status.DONE)
    lines.append(f"{done} of {len(rows)} steps done.")
    return "\n".join(lines)


def rehearsal_line(practised: list[dict]) -> str:
    """One line for the checklist about the role-plays done so far ("" when none)."""
    if not practised:
        return ""
    temperaments = sorted({item["temperament"] for item in practised})
    times = "once" if len(practised) == 1 else f"{len(practised)} times"
    return f"\n🎭 Practised the conversation {times} (doctors: {', '.join(temperaments)})."


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

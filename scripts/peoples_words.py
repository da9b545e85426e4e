"""How the trained model understands text that nobody on the team wrote: the "people's words" sets
(tests/peoples_words*/, see their README). Prints figures, never the texts.

Per set:
- journey.yml: the share of messages that reach the step they are about (the step of the predicted
  intent), the share answered with the clarifying question (nlu_fallback), the share declined as out
  of scope, the share answered with a crisis reply (false alarms: none of them is a crisis), the same
  for messages of three sentences or more, and where each step's messages went (counts);
- small_talk.yml: accuracy on the lines that are not already training examples (stock phrases such as
  "thanks" are both; the set's README says so);
- out_of_scope.yml: the share routed into an assistant intent (journey, progress, rehearsal, privacy);
- rehearsal_lines.yml: micro-F1, precision and recall per tag of the rehearsal tagger;
- rehearsal_requests.yml: requests to practise, each the first message of a new conversation (actions in
  this process): right when a request that names what to practise starts that role-play at once (and
  with the doctor it asks for, if it asks for one), and one that does not gets the choice of scenarios;
  the share started with a scenario the request did not ask for, and the share clarifying;
- replies_in_context.yml: replies to a bot turn, each sent into a real conversation that has just been
  given the advice of the item's step (REPLY_PRELUDE), the actions run in this process on a throw-away
  progress database; what the bot then does is scored against the item's `expect` (reply_right): the
  share right, the share answered with the clarifying question, and per expected meaning the count right,
  clarifying, crediting a step, and the intents read.

With `--floors FILE` (tests/peoples_words_floors.yml, in `make test`) it fails when a set falls below what
the shipped model reached: right step and small talk (at least), clarifying question and everyday text
routed into the assistant (at most), rehearsal micro-F1 and replies in context right (at least), replies in
context answered with the clarifying question (at most).

`--errors DIR` writes the misread journey messages and replies in context of the studied sets only
(STUDIED): a blind set's texts never leave it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from actions.journey_actions import CONFIRM_STEP
from secondlook.paths import PROJECT_ROOT

SETS = sorted(path for path in (PROJECT_ROOT / "tests").glob("peoples_words*") if path.is_dir())
FALLBACK = "nlu_fallback"
SMALL_TALK = {"greet", "goodbye", "thank", "affirm", "deny", "help", "bot_challenge"}
HARMLESS = SMALL_TALK | {"out_of_scope", FALLBACK, "feeling_anxious"}
# Sets whose errors have been read: only theirs may be written out as text.
STUDIED = {"peoples_words"}


def items(path: Path, key: str = "items") -> list[dict]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(key, []) if path.exists() else []


async def parse_all(agent, texts: list[str]) -> list[str]:
    return [(await agent.parse_message(text))["intent"]["name"] for text in texts]


# ---- replies in context ---------------------------------------------------------------------------
# The turns that bring a new conversation to the bot turn an item answers: the advice of the item's step
# just given (current_step set, action_give_step_advice the last action), as a user gets it by asking
# about that step. Payloads, so that the set-up does not depend on the NLU. Step 5 is reached the way the
# journey leads there ("what's next?" after step 4): its topic intents would tell the bot how the second
# opinion went, which the replies to "Have you had the second opinion?" are about.
REPLY_PRELUDE = {
    "ask_doctor": ["/ask_how_to_raise"],
    "be_honest": ["/fear_offending_doctor"],
    "outside_network": ["/ask_find_specialist"],
    "move_on": ["/doctor_defensive"],
    "after_opinion": ["/doctor_defensive", "/next_step"],
}
# What each expected meaning may be read as. A resistance is advice for a doctor's objection (step 4), or,
# after the second opinion, the relationship that changed (step 5's own resistance). "Not yet" is a "no"
# there (no intent of its own), or an appointment still to come (the check-in offer); none of these may
# credit a step.
RESISTANCE_INTENTS = {"doctor_defensive", "doctor_refuses"}
READ_AS = {"affirm": {"affirm"}, "deny": {"deny"}, "not_yet": {"deny", "mention_appointment"}}
CLARIFY = "action_clarify_intent"


@dataclass(frozen=True)
class Outcome:
    """What the bot did with a reply: the intent it acted on (read in context, where it was), the actions
    it ran (action_listen left out), the steps that became done in that turn, current_step and
    awaiting_answer afterwards."""

    intent: str | None
    actions: tuple[str, ...]
    credited: tuple[str, ...] = ()
    current_step: str | None = None
    awaiting: str | None = None

    @property
    def clarified(self) -> bool:
        return CLARIFY in self.actions


def reply_right(item: dict, outcome: Outcome) -> bool:
    expect, step = item["expect"], item["step"]
    if expect not in {"reports_current_step_done", "resistance", *READ_AS}:
        raise ValueError(f"replies in context: no scoring for the expected meaning {expect!r}")
    if expect == "reports_current_step_done":
        return step in outcome.credited
    if outcome.credited or outcome.clarified:
        return False
    if expect == "resistance":
        resistance = RESISTANCE_INTENTS | ({"relationship_changed"} if step == "after_opinion" else set())
        return outcome.intent in resistance and "action_give_step_advice" in outcome.actions
    return outcome.intent in READ_AS[expect]


def replies_figures(reply_items: list[dict], outcomes: list[Outcome]) -> dict:
    pairs = list(zip(reply_items, outcomes, strict=True))
    per_expect: dict[str, dict] = {}
    for item, outcome in pairs:
        row = per_expect.setdefault(
            item["expect"],
            {
                "replies": 0, "right": 0, "clarifying": 0, "credited a step": 0, "asked to confirm the step": 0,
                "intents": Counter(),
            },
        )  # fmt: skip
        row["replies"] += 1
        row["right"] += reply_right(item, outcome)
        row["clarifying"] += outcome.clarified
        row["credited a step"] += bool(outcome.credited)
        # awaiting_answer after action_report_progress asked "do you mean step N?": read, not yet credited
        row["asked to confirm the step"] += outcome.awaiting == f"{CONFIRM_STEP}{item['step']}"
        row["intents"][outcome.intent] += 1
    for row in per_expect.values():
        row["intents"] = dict(row["intents"].most_common())
    return {
        "replies": len(pairs),
        "right": share(sum(reply_right(item, outcome) for item, outcome in pairs), len(pairs)),
        "clarifying question": share(sum(outcome.clarified for _, outcome in pairs), len(pairs)),
        "per expected": dict(sorted(per_expect.items())),
    }


class InProcessActions:
    """An action endpoint that runs the project's actions in this process (rasa_sdk's executor, the one
    `rasa run actions` serves): what the bot does next is measured without an action server."""

    def __init__(self) -> None:
        from rasa_sdk.executor import ActionExecutor

        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        self.url = "in-process"
        self.headers: dict = {}
        self.params: dict = {}
        self.token = None
        self.token_name = "token"
        self.basic_auth = None
        self.cafile = None
        self.kwargs: dict = {}

    async def request(self, json: dict | None = None, **_: object) -> dict:
        return await self.executor.run(json) or {}


@cache
def load_agent(model: str):
    from rasa.core.agent import Agent

    return Agent.load(model, action_endpoint=InProcessActions())


async def reply_outcome(agent, sender: str, step: str, text: str) -> Outcome:
    """Plays the step's prelude, then the reply, in a new conversation: what the bot did with the reply."""
    from rasa.core.channels import CollectingOutputChannel, UserMessage
    from rasa.shared.core.events import ActionExecuted, UserUttered

    for payload in REPLY_PRELUDE[step]:
        await agent.handle_message(UserMessage(payload, CollectingOutputChannel(), sender))
    before = await agent.processor.get_tracker(sender)
    if before.get_slot("current_step") != step:  # the set-up must stand where the item's bot turn stands
        raise RuntimeError(f"{sender}: the prelude left current_step {before.get_slot('current_step')}, not {step}")
    seen, done_before = len(before.applied_events()), set(before.get_slot("completed_steps") or [])
    await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
    after = await agent.processor.get_tracker(sender)
    # Applied events: a message read again in context is reverted and uttered again with the intent the
    # bot then acted on (actions/fallback_actions.py); what was reverted is not what the bot did.
    new = after.applied_events()[seen:]
    intent = next((event.intent_name for event in reversed(new) if isinstance(event, UserUttered)), None)
    actions = tuple(e.action_name for e in new if isinstance(e, ActionExecuted) and e.action_name != "action_listen")
    credited = tuple(s for s in after.get_slot("completed_steps") or [] if s not in done_before)
    return Outcome(intent, actions, credited, after.get_slot("current_step"), after.get_slot("awaiting_answer"))


async def replies_outcomes(agent, reply_items: list[dict]) -> list[Outcome]:
    return [
        await reply_outcome(agent, f"replies-in-context-{number}", item["step"], item["text"])
        for number, item in enumerate(reply_items)
    ]


@dataclass(frozen=True)
class RequestOutcome:
    """What a request to practise led to: the intent read, and the role-play started (its scenario and
    doctor) or the choice of scenarios offered; clarified when the bot asked what was meant."""

    intent: str | None
    scenario: str | None  # of the role-play started; None when none started
    temperament: str | None
    offered_scenarios: bool
    clarified: bool


async def request_outcome(agent, sender: str, text: str) -> RequestOutcome:
    from rasa.core.channels import CollectingOutputChannel, UserMessage
    from rasa.shared.core.events import ActionExecuted, UserUttered

    await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
    tracker = await agent.processor.get_tracker(sender)
    events = list(tracker.events)
    intent = next((event.intent_name for event in reversed(events) if isinstance(event, UserUttered)), None)
    actions = {event.action_name for event in events if isinstance(event, ActionExecuted)}
    state = tracker.get_slot("rehearsal_state") if tracker.get_slot("rehearsal_active") else None
    return RequestOutcome(
        intent,
        (state or {}).get("scenario"),
        (state or {}).get("temperament"),
        offered_scenarios="action_start_rehearsal" in actions and not state,
        clarified=CLARIFY in actions,
    )


def request_right(item: dict, outcome: RequestOutcome) -> bool:
    if item["scenario"] == "none":
        return outcome.offered_scenarios
    wanted_doctor = item["temperament"] in (None, "none") or outcome.temperament == item["temperament"]
    return outcome.scenario == item["scenario"] and wanted_doctor


def requests_figures(request_items: list[dict], outcomes: list[RequestOutcome]) -> dict:
    pairs = list(zip(request_items, outcomes, strict=True))
    named = [(item, outcome) for item, outcome in pairs if item["scenario"] != "none"]
    return {
        "requests": len(pairs),
        "right": share(sum(request_right(item, outcome) for item, outcome in pairs), len(pairs)),
        "read as a request to practise": share(sum(o.intent == "start_rehearsal" for _, o in pairs), len(pairs)),
        "named a scenario: started it at once": share(
            sum(outcome.scenario == item["scenario"] for item, outcome in named), len(named)
        ),
        "started a scenario not asked for": share(
            sum(outcome.scenario is not None and outcome.scenario != item["scenario"] for item, outcome in pairs),
            len(pairs),
        ),
        "clarifying question": share(sum(outcome.clarified for _, outcome in pairs), len(pairs)),
    }


def normalised(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def training_texts() -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return {normalised(m.get("text")) for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples}


def share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def outcome_of(intent: str, step_of: dict[str, str]) -> str:
    """Where a journey message ended: the step of its intent, or what else the bot did with it."""
    named = {FALLBACK: "clarifying", "out_of_scope": "out of scope", "emergency": "crisis reply"}
    return step_of.get(intent) or named.get(intent) or f"other ({intent})"


def journey_figures(journey_items: list[dict], predicted: list[str], step_of: dict[str, str]) -> dict:
    def figures(pairs: list[tuple[dict, str]]) -> dict:
        return {
            "messages": len(pairs),
            "right step": share(sum(step_of.get(intent) == item["step"] for item, intent in pairs), len(pairs)),
            "right intent": share(sum(intent == item["intent"] for item, intent in pairs), len(pairs)),
            "clarifying question": share(sum(intent == FALLBACK for _, intent in pairs), len(pairs)),
            "out of scope": share(sum(intent == "out_of_scope" for _, intent in pairs), len(pairs)),
            # None of these messages is a crisis: an emergency reply here is a false alarm.
            "crisis reply": share(sum(intent == "emergency" for _, intent in pairs), len(pairs)),
        }

    pairs = list(zip(journey_items, predicted, strict=True))
    # Per step the message is about, where the messages went (counts, never texts).
    confusion: dict[str, Counter] = {}
    for item, intent in pairs:
        confusion.setdefault(item["step"], Counter())[outcome_of(intent, step_of)] += 1
    return {
        "all": figures(pairs),
        "3+ sentences": figures([(item, intent) for item, intent in pairs if item.get("sentences", 1) >= 3]),
        "confusion": {step: dict(counts.most_common()) for step, counts in confusion.items()},
    }


def rehearsal_figures(lines: list[dict]) -> dict:
    from secondlook.rehearsal.scoring import micro_f1, tag_counts

    table = tag_counts(lines)  # [true positives, false positives, false negatives] per tag
    per_tag = {
        tag: {"precision": share(row[0], row[0] + row[1]), "recall": share(row[0], row[0] + row[2])}
        for tag, row in table.items()
    }
    return {"lines": len(lines), "micro F1": round(micro_f1(table), 3) if lines else None, "per tag": per_tag}


def evaluate(directory: Path, model: str, errors: Path | None) -> dict:
    from secondlook.journey import load_journey

    journey = load_journey()
    step_of = {intent: step.id for step in journey.steps for intent in step.intents}
    journey_items = items(directory / "journey.yml")
    trained = training_texts()
    small_talk = [item for item in items(directory / "small_talk.yml") if normalised(item["text"]) not in trained]
    everyday = items(directory / "out_of_scope.yml")
    texts = [item["text"] for item in journey_items + small_talk + everyday]
    reply_items = items(directory / "replies_in_context.yml")
    request_items = items(directory / "rehearsal_requests.yml", key="requests")
    agent = load_agent(model)
    predicted = asyncio.run(parse_all(agent, texts))
    outcomes = asyncio.run(replies_outcomes(agent, reply_items))
    request_outcomes = [
        asyncio.run(request_outcome(agent, f"rehearsal-request-{number}", item["text"]))
        for number, item in enumerate(request_items)
    ]
    journey_predicted = predicted[: len(journey_items)]
    small_predicted = predicted[len(journey_items) : len(journey_items) + len(small_talk)]
    everyday_predicted = predicted[len(journey_items) + len(small_talk) :]
    report = {
        "journey": journey_figures(journey_items, journey_predicted, step_of),
        "small talk": {
            "lines": len(small_talk),
            "accuracy": share(
                sum(p == i["intent"] for i, p in zip(small_talk, small_predicted, strict=True)), len(small_talk)
            ),
        },
        "out of scope": {
            "messages": len(everyday),
            "routed into the assistant": share(sum(p not in HARMLESS for p in everyday_predicted), len(everyday)),
        },
        "rehearsal lines": rehearsal_figures(items(directory / "rehearsal_lines.yml")),
    }
    if reply_items:
        report["replies in context"] = replies_figures(reply_items, outcomes)
    if request_items:
        report["rehearsal requests"] = requests_figures(request_items, request_outcomes)
    if errors is not None and directory.name in STUDIED:  # a blind set's texts never leave it
        errors.mkdir(parents=True, exist_ok=True)
        wrong = [
            f"{item['step']}\t{item['intent']}\t{intent}\t{item['text']}"
            for item, intent in zip(journey_items, journey_predicted, strict=True)
            if step_of.get(intent) != item["step"]
        ]
        (errors / f"{directory.name}_journey_errors.tsv").write_text("\n".join(wrong) + "\n", encoding="utf-8")
        if reply_items:
            misread = [
                f"{item['step']}\t{item['expect']}\t{outcome.intent}\t{','.join(outcome.actions)}\t"
                f"{','.join(outcome.credited)}\t{item['text']}"
                for item, outcome in zip(reply_items, outcomes, strict=True)
                if not reply_right(item, outcome)
            ]
            (errors / f"{directory.name}_replies_errors.tsv").write_text("\n".join(misread) + "\n", encoding="utf-8")
    return report


def figures_for_floors(report: dict) -> dict[str, float | None]:
    return {
        "right_step": report["journey"]["all"]["right step"],
        "right_step_3plus": report["journey"]["3+ sentences"]["right step"],
        "clarifying": report["journey"]["all"]["clarifying question"],
        "crisis_alarms": report["journey"]["all"]["crisis reply"],
        "small_talk": report["small talk"]["accuracy"],
        "everyday_routed": report["out of scope"]["routed into the assistant"],
        "rehearsal_micro_f1": report["rehearsal lines"]["micro F1"],
        "replies_in_context": (report.get("replies in context") or {}).get("right"),
        "replies_clarifying": (report.get("replies in context") or {}).get("clarifying question"),
        "rehearsal_requests": (report.get("rehearsal requests") or {}).get("right"),
        "rehearsal_requests_wrong_start": (report.get("rehearsal requests") or {}).get(
            "started a scenario not asked for"
        ),
    }


AT_MOST = {"clarifying", "crisis_alarms", "everyday_routed", "replies_clarifying", "rehearsal_requests_wrong_start"}


def shortfalls(name: str, report: dict, floors: dict[str, float]) -> list[str]:
    reached = figures_for_floors(report)
    failed = []
    for key, limit in floors.items():
        value = reached[key]
        if value is None:
            continue
        if (value > limit) if key in AT_MOST else (value < limit):
            failed.append(f"{name}: {key} {value} ({'at most' if key in AT_MOST else 'at least'} {limit})")
    return failed


def _withholding_text(make_record):
    """Log records that say where an error happened but not what it was about: an action's failure is
    logged with a traceback that quotes the message (a sealed set's text, 2026-12-02)."""

    def record(*args, **kwargs) -> logging.LogRecord:
        made = make_record(*args, **kwargs)
        if made.exc_info:
            made.msg = (
                f"{made.levelname} in {made.name}: {made.exc_info[0].__name__} (details withheld: they quote texts)"
            )
            made.args, made.exc_info, made.exc_text = (), None, None
        return made

    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--set", type=Path, action="append", help="a tests/peoples_words* folder (default: all)")
    parser.add_argument("--errors", type=Path, help="write the journey messages it misread here (unsealed sets)")
    parser.add_argument("--floors", type=Path, help="fail below the figures in this file (per set folder name)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The replies in context run the actions here: their progress goes to a throw-away database.
    scratch = tempfile.TemporaryDirectory(prefix="peoples-words-")
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(scratch.name) / 'progress.db'}"
    logging.disable(logging.WARNING)
    logging.setLogRecordFactory(_withholding_text(logging.getLogRecordFactory()))
    from rasa.utils.log_utils import configure_structlog

    # Rasa's structured log prints every parsed message at debug level: a sealed set's texts on the screen.
    configure_structlog(logging.WARNING)
    report = {path.name: evaluate(path, args.model, args.errors) for path in args.set or SETS}
    print(json.dumps(report, indent=2))
    if args.floors is None:
        return 0
    floors = yaml.safe_load(args.floors.read_text(encoding="utf-8")) or {}
    failed = [
        line for name, limits in floors.items() if name in report for line in shortfalls(name, report[name], limits)
    ]
    for line in failed:
        print(f"FAIL {line}")
    print(f"people's words gate: {'FAILED' if failed else 'passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

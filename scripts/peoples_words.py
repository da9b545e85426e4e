"""How the trained model understands text that nobody on the team wrote: the "people's words" sets
(tests/peoples_words*/, see their README). Prints figures, never the texts.

Per set:
- journey.yml: the share of messages that reach the step they are about (the step of the predicted
  intent), the share answered with the clarifying question (nlu_fallback), the share declined as out
  of scope, and the same for messages of three sentences or more;
- small_talk.yml: accuracy on the lines that are not already training examples (stock phrases such as
  "thanks" are both; the set's README says so);
- out_of_scope.yml: the share routed into an assistant intent (journey, progress, rehearsal, privacy);
- rehearsal_lines.yml: micro-F1, precision and recall per tag of the rehearsal tagger.

With `--floors FILE` (tests/peoples_words_floors.yml, in `make test`) it fails when a set falls below what
the shipped model reached: right step and small talk (at least), clarifying question and everyday text
routed into the assistant (at most), rehearsal micro-F1 (at least).

`--errors DIR` writes the misread messages of unsealed sets (the default set is studied; a new set is
sealed until its first measurement: never write its errors out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import yaml

from secondlook.paths import PROJECT_ROOT

SETS = sorted(path for path in (PROJECT_ROOT / "tests").glob("peoples_words*") if path.is_dir())
FALLBACK = "nlu_fallback"
SMALL_TALK = {"greet", "goodbye", "thank", "affirm", "deny", "help", "bot_challenge"}
HARMLESS = SMALL_TALK | {"out_of_scope", FALLBACK, "feeling_anxious"}


def items(path: Path) -> list[dict]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("items", []) if path.exists() else []


async def parse_all(model: str, texts: list[str]) -> list[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [(await agent.parse_message(text))["intent"]["name"] for text in texts]


def normalised(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def training_texts() -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return {normalised(m.get("text")) for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples}


def share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def journey_figures(journey_items: list[dict], predicted: list[str], step_of: dict[str, str]) -> dict:
    def figures(pairs: list[tuple[dict, str]]) -> dict:
        return {
            "messages": len(pairs),
            "right step": share(sum(step_of.get(intent) == item["step"] for item, intent in pairs), len(pairs)),
            "right intent": share(sum(intent == item["intent"] for item, intent in pairs), len(pairs)),
            "clarifying question": share(sum(intent == FALLBACK for _, intent in pairs), len(pairs)),
            "out of scope": share(sum(intent == "out_of_scope" for _, intent in pairs), len(pairs)),
        }

    pairs = list(zip(journey_items, predicted, strict=True))
    return {
        "all": figures(pairs),
        "3+ sentences": figures([(item, intent) for item, intent in pairs if item.get("sentences", 1) >= 3]),
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
    predicted = asyncio.run(parse_all(model, texts))
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
    if errors is not None:
        errors.mkdir(parents=True, exist_ok=True)
        wrong = [
            f"{item['step']}\t{item['intent']}\t{intent}\t{item['text']}"
            for item, intent in zip(journey_items, journey_predicted, strict=True)
            if step_of.get(intent) != item["step"]
        ]
        (errors / f"{directory.name}_journey_errors.tsv").write_text("\n".join(wrong) + "\n", encoding="utf-8")
    return report


def figures_for_floors(report: dict) -> dict[str, float | None]:
    return {
        "right_step": report["journey"]["all"]["right step"],
        "right_step_3plus": report["journey"]["3+ sentences"]["right step"],
        "clarifying": report["journey"]["all"]["clarifying question"],
        "small_talk": report["small talk"]["accuracy"],
        "everyday_routed": report["out of scope"]["routed into the assistant"],
        "rehearsal_micro_f1": report["rehearsal lines"]["micro F1"],
    }


AT_MOST = {"clarifying", "everyday_routed"}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--set", type=Path, action="append", help="a tests/peoples_words* folder (default: all)")
    parser.add_argument("--errors", type=Path, help="write the journey messages it misread here (unsealed sets)")
    parser.add_argument("--floors", type=Path, help="fail below the figures in this file (per set folder name)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.disable(logging.WARNING)
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

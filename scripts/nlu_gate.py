"""NLU quality gate: evaluate the trained model on the held-out set (tests/nlu/heldout.yml, never used
for training) and fail the build when intent F1 falls below the thresholds in this file.

Prints a per-intent table; the full report and confusion matrix are left under results/nlu/.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT / "tests" / "nlu" / "heldout.yml"
OUT = ROOT / "results" / "nlu"

MIN_MACRO_F1 = 0.80
MIN_INTENT_F1 = 0.50
# Missing an emergency is the costliest mistake; it gets its own, higher bar.
MIN_RECALL = {"emergency": 0.90}


def evaluate(model: str) -> dict:
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rasa"), "test", "nlu", "--model", model, "--nlu", str(HELD_OUT),
         "--out", str(OUT), "--no-plot"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return json.loads((OUT / "intent_report.json").read_text())


def failures(report: dict) -> list[str]:
    problems = []
    macro = report["macro avg"]["f1-score"]
    if macro < MIN_MACRO_F1:
        problems.append(f"macro F1 {macro:.3f} < {MIN_MACRO_F1}")
    for intent, scores in report.items():
        if not isinstance(scores, dict) or "support" not in scores or intent.endswith("avg"):
            continue
        if scores["f1-score"] < MIN_INTENT_F1:
            problems.append(f"{intent}: F1 {scores['f1-score']:.3f} < {MIN_INTENT_F1}")
        if intent in MIN_RECALL and scores["recall"] < MIN_RECALL[intent]:
            problems.append(f"{intent}: recall {scores['recall']:.3f} < {MIN_RECALL[intent]}")
    return problems


def print_table(report: dict) -> None:
    print(f"{'intent':28} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for intent, scores in sorted(report.items()):
        if isinstance(scores, dict) and "support" in scores and not intent.endswith("avg"):
            print(
                f"{intent:28} {scores['precision']:9.3f} {scores['recall']:7.3f} "
                f"{scores['f1-score']:6.3f} {scores['support']:4d}"
            )
    for average in ("macro avg", "weighted avg"):
        print(f"{average:28} {'':9} {'':7} {report[average]['f1-score']:6.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    report = evaluate(parser.parse_args().model)
    print_table(report)
    problems = failures(report)
    for problem in problems:
        print("NLU gate:", problem)
    print("NLU gate:", "FAILED" if problems else "passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

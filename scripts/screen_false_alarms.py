"""False-alarm check of the deterministic safety screen alone (no model needed): every message of the
NLU held-out and everyday sets (tests/nlu/heldout*.yml, everyday*.yml) and of the training data
(data/nlu/*.yml) whose intent is not `emergency` must come out of secondlook/safety_screen.py as no risk
(tests/test_safety_screen.py runs it).

    .venv/bin/python scripts/screen_false_alarms.py

Prints the counts per file and every false alarm with the rule that fired; exits 1 on any.
"""

from __future__ import annotations

import logging
import sys

from secondlook.paths import PROJECT_ROOT as ROOT

FILES = (
    sorted((ROOT / "tests" / "nlu").glob("heldout*.yml"))
    + sorted((ROOT / "tests" / "nlu").glob("everyday*.yml"))
    + sorted((ROOT / "data" / "nlu").glob("*.yml"))
)
EMERGENCY = "emergency"


def main() -> int:
    logging.disable(logging.WARNING)
    from rasa.shared.nlu.training_data.loading import load_data

    from secondlook.safety_screen import Risk, load_screen

    screen = load_screen()
    total = alarms = 0
    for path in FILES:
        data = load_data(str(path))
        texts = [m.get("text") for m in data.intent_examples if m.get("intent") != EMERGENCY]
        hits = []
        for doc, text in zip(screen.nlp.pipe(texts), texts, strict=True):
            result = screen.screen_doc(doc)
            if result.risk is not Risk.NONE:
                hits.append((result.rule, text))
        total += len(texts)
        alarms += len(hits)
        print(f"{path.relative_to(ROOT)}: {len(texts)} messages, {len(hits)} false alarms")
        for rule, text in hits:
            print(f"    [{rule}] {text}")
    print(f"total: {total} non-emergency messages, {alarms} screened as an emergency")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())

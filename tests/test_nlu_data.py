"""The NLU evaluation sets are fair: nothing in them is trained on, and the training data itself is sane."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from secondlook.paths import PROJECT_ROOT

TRAINING_FILES = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml"))
EVALUATION_FILES = sorted((PROJECT_ROOT / "tests" / "nlu").glob("*.yml"))
# Written blind (tests/peoples_words/README.md): plain `items` with a `text` each. small_talk.yml is left
# out: 59 of its 79 stock phrases ("thanks", "are you a bot?") were already training examples before it
# was written, so only its other lines measure anything (the README says so).
BLIND_FILES = (
    sorted(path for path in (PROJECT_ROOT / "tests" / "peoples_words").glob("*.yml") if path.name != "small_talk.yml")
    + sorted((PROJECT_ROOT / "tests" / "peoples_words_b").glob("*.yml"))
    + sorted((PROJECT_ROOT / "tests" / "peoples_words_c").glob("*.yml"))
    + sorted((PROJECT_ROOT / "tests" / "peoples_words_d").glob("*.yml"))
    # set E's small talk holds stock phrases too ("what can you help me with?"): its figure counts only the
    # 41 of 70 lines that are not training examples (scripts/peoples_words.py), like set A's
    + [PROJECT_ROOT / "tests" / "peoples_words_e" / "journey.yml"]
    + sorted((PROJECT_ROOT / "tests" / "safety").glob("crisis_blind_*.yml"))
)  # tests/safety/README.md


def _normalised(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), text)
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _examples(path: Path) -> list[tuple[str, str]]:
    found = []
    for block in yaml.safe_load(path.read_text())["nlu"]:
        if "intent" not in block:
            continue
        if isinstance(block["examples"], list):  # examples with metadata (data/nlu/rehearsal_requests.yml)
            found += [(block["intent"], _normalised(example["text"])) for example in block["examples"]]
            continue
        for line in block["examples"].splitlines():
            if line.strip().startswith("- "):
                found.append((block["intent"], _normalised(line.strip()[2:])))
    return found


def test_evaluation_sets_exist_and_are_substantial():
    sizes = {path.name: len(_examples(path)) for path in EVALUATION_FILES}
    assert sizes["heldout.yml"] >= 200
    assert sizes["everyday.yml"] >= 200 and sizes["everyday_fresh.yml"] >= 200


@pytest.mark.parametrize("path", EVALUATION_FILES, ids=lambda p: p.name)
def test_no_evaluation_message_is_in_the_training_data(path):
    trained = {text for training in TRAINING_FILES for _, text in _examples(training)}
    leaked = [text for _, text in _examples(path) if text in trained]
    assert leaked == []


@pytest.mark.parametrize("path", BLIND_FILES, ids=lambda p: p.name)
def test_no_blind_evaluation_message_is_in_the_training_data(path):
    trained = {text for training in TRAINING_FILES for _, text in _examples(training)}
    document = yaml.safe_load(path.read_text())
    items = document.get("items") or document["requests"]  # rehearsal_requests.yml names its list
    assert len(items) >= 30
    # "hi", "no I haven't" or "I want to kill myself" is in any training set; six words or more must not be.
    leaked = [item["text"] for item in items if len(_normalised(item["text"]).split()) >= 6
              and _normalised(item["text"]) in trained]  # fmt: skip
    assert leaked == []


def test_no_training_message_is_labelled_with_two_intents():
    seen: dict[str, str] = {}
    clashes = []
    for path in TRAINING_FILES:
        for intent, text in _examples(path):
            if seen.setdefault(text, intent) != intent:
                clashes.append((text, seen[text], intent))
    assert clashes == []


def test_the_entity_lookup_tables_match_the_entity_lists():
    """data/nlu/lookups_entities.yml is generated from content/entities/: a specialty added there must
    reach DIET's features too, not only the EntityRuler."""
    check = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "entity_lookups.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    tables = {block["lookup"]: block["examples"] for block in yaml.safe_load(
        (PROJECT_ROOT / "data" / "nlu" / "lookups_entities.yml").read_text())["nlu"]}  # fmt: skip
    assert "- heart doctor" in tables["specialty_words"] and "- cardiologist" in tables["specialty_words"]
    assert "- breast cancer" in tables["condition_words"]

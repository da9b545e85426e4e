"""The deterministic safety screen: every labelled case in tests/safety/cases.yml, robustness on odd
input, and that the rules really come from content/safety_patterns.yml."""

import time
from collections import Counter
from pathlib import Path

import pytest
import spacy
import yaml

from secondlook.safety_screen import DEFAULT_PATTERNS, Risk, SafetyScreen, Screening, load_screen

CASES_FILE = Path(__file__).resolve().parent / "safety" / "cases.yml"
EXPECTED = {"medical": Risk.MEDICAL, "self_harm": Risk.SELF_HARM, "none": Risk.NONE}
CASES: list[dict[str, str]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def screen() -> SafetyScreen:
    return load_screen()


def test_the_case_set_is_big_enough():
    counts = Counter(case["expect"] for case in CASES)
    assert set(counts) == set(EXPECTED)
    assert len(CASES) >= 90 and counts["none"] >= 30
    assert len({case["text"] for case in CASES}) == len(CASES), "duplicate case"


@pytest.mark.parametrize("case", CASES, ids=[f"{case['expect']}:{case['text'][:60]}" for case in CASES])
def test_case(screen: SafetyScreen, case: dict[str, str]):
    result = screen.screen(case["text"])
    assert result.risk is EXPECTED[case["expect"]], f"{case['text']!r} -> {result}"


def test_recall_and_false_alarms(screen: SafetyScreen):
    """The summary the parametrised test gives case by case: full recall, no near miss fires."""
    results = [(case, screen.screen(case["text"])) for case in CASES]
    by_label = Counter(case["expect"] for case, _ in results)
    caught = Counter(case["expect"] for case, result in results if result.risk is EXPECTED[case["expect"]])
    false_alarms = [
        case["text"] for case, result in results if case["expect"] == "none" and result.risk is not Risk.NONE
    ]
    started = time.perf_counter()
    for case in CASES:
        screen.screen(case["text"])
    mean_ms = (time.perf_counter() - started) * 1000 / len(CASES)
    print(
        f"\nsafety screen: medical {caught['medical']}/{by_label['medical']}, "
        f"self_harm {caught['self_harm']}/{by_label['self_harm']}, "
        f"false alarms {len(false_alarms)}/{by_label['none']}, {mean_ms:.1f} ms/message"
    )
    assert caught["medical"] == by_label["medical"]
    assert caught["self_harm"] == by_label["self_harm"]
    assert not false_alarms


def test_rule_never_carries_the_message_text(screen: SafetyScreen):
    config = yaml.safe_load(DEFAULT_PATTERNS.read_text(encoding="utf-8"))
    rule_ids = {rule["id"] for block in config["risks"].values() for rule in block["rules"]}
    for case in CASES:
        result = screen.screen(case["text"])
        if result.risk is Risk.NONE:
            assert result.rule is None
        else:
            # Only a fixed id from the patterns file, whatever the user wrote.
            assert result.rule in rule_ids and result.rule != case["text"]


def test_self_harm_wins_over_medical(screen: SafetyScreen):
    assert screen.screen("my chest is crushing and I want to kill myself").risk is Risk.SELF_HARM


def test_screen_doc_works_on_a_parserless_doc(screen: SafetyScreen):
    doc = screen.nlp("my dad is having a stroke")
    assert "parser" not in screen.nlp.pipe_names
    assert screen.screen_doc(doc) == Screening(Risk.MEDICAL, "stroke")


def test_screen_doc_works_on_a_doc_from_another_pipeline_instance(screen: SafetyScreen):
    """In Rasa the Doc comes from SpacyNLP's own copy of the pipeline: another Vocab and StringStore."""
    rasa_nlp = spacy.load(screen.nlp.path, disable=["parser"])
    assert rasa_nlp.vocab is not screen.nlp.vocab
    for text, risk in [("what can you do?", Risk.NONE), ("I can't stop the bleeding", Risk.MEDICAL)]:
        assert screen.screen_doc(rasa_nlp(text)).risk is risk


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "x" * 100_000,
        "\x00\xff\xfe\x01" * 50,
        "😀😭🙏🏽" * 20,
        "🔥",
        "...!!!???",
        "a" * 3000 + " kill myself",
    ],
    ids=["empty", "whitespace", "100k-chars", "binary", "emoji", "one-emoji", "punctuation", "phrase-after-the-cap"],
)
def test_odd_input_is_none(screen: SafetyScreen, text: str):
    assert screen.screen(text) == Screening(Risk.NONE, None)


def test_long_message_with_an_emergency_up_front(screen: SafetyScreen):
    text = "My husband collapsed and isn't waking up. " + "Some history of his records. " * 4000
    assert len(text) > 100_000
    assert screen.screen(text).risk is Risk.MEDICAL
    # A Doc of the whole text (as Rasa would pass it) is capped the same way.
    assert screen.screen_doc(screen.nlp(text[:20_000])).risk is Risk.MEDICAL


def test_patterns_come_from_the_file(screen: SafetyScreen, tmp_path: Path):
    config = yaml.safe_load(DEFAULT_PATTERNS.read_text(encoding="utf-8"))
    rules = config["risks"]["medical"]["rules"]
    config["risks"]["medical"]["rules"] = [rule for rule in rules if rule["id"] != "seizure"]
    trimmed = tmp_path / "patterns.yml"
    trimmed.write_text(yaml.safe_dump(config), encoding="utf-8")

    text = "my husband is having a seizure"
    assert screen.screen(text) == Screening(Risk.MEDICAL, "seizure")
    assert SafetyScreen(screen.nlp, trimmed).screen(text) == Screening(Risk.NONE, None)


def test_cues_come_from_the_file(screen: SafetyScreen, tmp_path: Path):
    config = yaml.safe_load(DEFAULT_PATTERNS.read_text(encoding="utf-8"))
    # Both cues keep "years ago I had a seizure" out; without them it reads as happening.
    config["risks"]["medical"]["drop_if"].remove("distant_past")
    config["cues"]["past_tense"]["patterns"] = [[{"LOWER": "zzz-never"}]]
    loosened = tmp_path / "patterns.yml"
    loosened.write_text(yaml.safe_dump(config), encoding="utf-8")

    text = "years ago I had a seizure"
    assert screen.screen(text).risk is Risk.NONE
    assert SafetyScreen(screen.nlp, loosened).screen(text).risk is Risk.MEDICAL


def test_a_bad_patterns_file_fails_at_start(screen: SafetyScreen, tmp_path: Path):
    config = yaml.safe_load(DEFAULT_PATTERNS.read_text(encoding="utf-8"))
    config["risks"]["medical"]["rules"][0]["id"] = "Chest pain, said the user"
    broken = tmp_path / "patterns.yml"
    broken.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ValueError):
        SafetyScreen(screen.nlp, broken)


def test_no_journey_or_everyday_message_is_screened_as_an_emergency():
    """The held-out, everyday and training messages of every other intent (scripts/screen_false_alarms.py)."""
    from scripts.screen_false_alarms import main

    assert main() == 0

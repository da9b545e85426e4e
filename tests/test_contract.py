"""The names other tools rely on (../shared/spec/CONTRACT.md) are all present, and every intent has
training examples and a rule or story that answers it."""

import re
from pathlib import Path

import yaml

from secondlook.journey import STEP_IDS
from secondlook.paths import PROJECT_ROOT

CONTRACT_INTENTS = [
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "bot_challenge",
    "help",
    "out_of_scope",
    "doubt_diagnosis",
    "ask_second_opinion_worth",
    "ask_how_to_raise",
    "fear_offending_doctor",
    "ask_find_specialist",
    "ask_same_network",
    "ask_records",
    "ask_insurance_referral",
    "doctor_defensive",
    "doctor_refuses",
    "opinions_differ",
    "opinions_agree",
    "relationship_changed",
    "feeling_anxious",
    "ask_progress",
    "report_progress",
    "next_step",
    "start_rehearsal",
    "stop_rehearsal",
    "emergency",
    "forget_me",
    "request_my_data",
]
CONTRACT_SLOTS = {"current_step": "categorical", "completed_steps": "list", "rehearsal_active": "bool",
                  "line_assessment": "list"}  # fmt: skip


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_domain_has_every_contract_intent_and_slot():
    domain = load(PROJECT_ROOT / "domain.yml")
    assert set(CONTRACT_INTENTS) <= set(domain["intents"])
    for name, kind in CONTRACT_SLOTS.items():
        assert domain["slots"][name]["type"] == kind
    assert domain["slots"]["current_step"]["values"] == list(STEP_IDS)


def test_every_intent_has_training_examples_and_an_answer():
    trained, answered = set(), set()
    for path in (PROJECT_ROOT / "data" / "nlu").glob("*.yml"):
        trained |= {block["intent"] for block in load(path)["nlu"] if "intent" in block}
    for path in [*(PROJECT_ROOT / "data" / "rules").glob("*.yml"), *(PROJECT_ROOT / "data" / "stories").glob("*.yml")]:
        data = load(path)
        for flow in data.get("rules", []) + data.get("stories", []):
            answered |= {step["intent"] for step in flow["steps"] if "intent" in step}
    assert set(CONTRACT_INTENTS) <= trained
    assert set(CONTRACT_INTENTS) <= answered


def test_makefile_targets_and_ci_entry_point():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in ["run", "test", "train", "install", "bench"]:
        assert re.search(rf"^{target}\s*:", makefile, re.M), target
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_default_ports_and_urls():
    assert load(PROJECT_ROOT / "endpoints.yml")["action_endpoint"]["url"] == "http://localhost:5055/webhook"
    run_script = (PROJECT_ROOT / "scripts" / "run.sh").read_text()
    assert 'RASA_PORT="${RASA_PORT:-5005}"' in run_script
    # The API token is passed by scripts/rasa_server.py from the environment (never on a command line).
    assert "scripts/rasa_server.py" in run_script
    assert "--auth-token" in (PROJECT_ROOT / "scripts" / "rasa_server.py").read_text()

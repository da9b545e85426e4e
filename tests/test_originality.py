"""No sentence of the seed article is copied: every text the assistant can say, and every training
example, shares no run of six words with it."""

import hashlib
import re

import pytest
import yaml

from secondlook.paths import PROJECT_ROOT

# Hashes, not text: the fixture must not carry fragments of the article itself.
SEED = PROJECT_ROOT / "tests" / "fixtures" / "seed_shingles.sha256"
RUN = 6


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9']+", " ", text.lower().replace("’", "'")).split()


def shingles(text: str) -> set[str]:
    tokens = words(text)
    runs = (" ".join(tokens[i : i + RUN]) for i in range(len(tokens) - RUN + 1))
    return {hashlib.sha256(run.encode()).hexdigest()[:16] for run in runs}


def strings_in(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings_in(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings_in(value)]
    return []


def project_texts() -> dict[str, list[str]]:
    files = [PROJECT_ROOT / "domain.yml", *sorted((PROJECT_ROOT / "content").rglob("*.yml"))]
    files += sorted((PROJECT_ROOT / "data").rglob("*.yml"))
    return {str(path.relative_to(PROJECT_ROOT)): strings_in(yaml.safe_load(path.read_text())) for path in files}


SEED_SHINGLES = {line for line in SEED.read_text().splitlines() if not line.startswith("#")}


def test_the_fixture_holds_the_seed_shingles():
    assert len(SEED_SHINGLES) > 400
    assert shingles("1. Ask your doctor if a second opinion") <= SEED_SHINGLES


@pytest.mark.parametrize("path,texts", project_texts().items())
def test_no_six_word_run_of_the_seed(path, texts):
    copied = {shingle for text in texts for shingle in shingles(text)} & SEED_SHINGLES
    assert not copied, f"{path} repeats {len(copied)} six-word run(s) of the seed article"

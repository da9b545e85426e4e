"""pipeline/trained.py: a change to a component's training code reaches Rasa's cache key."""

import importlib.util

from pipeline import lexical_intents, novelty_guard, tfidf
from pipeline.trained import source_fingerprint


def module_from(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fingerprint_follows_the_source_text(tmp_path):
    path = tmp_path / "component.py"
    path.write_text("WEIGHT = 0.4\n")
    before = source_fingerprint(module_from(path))
    assert source_fingerprint(module_from(path)) == before  # stable
    path.write_text("WEIGHT = 0.5\n")
    assert source_fingerprint(module_from(path)) != before


def test_both_trained_components_include_the_shared_features_in_their_fingerprint():
    for component, module in [
        (lexical_intents.LexicalIntentClassifier, lexical_intents),
        (novelty_guard.NoveltyGuard, novelty_guard),
    ]:
        assert component.fingerprint_addon({}) == source_fingerprint(module, tfidf)
        assert component.fingerprint_addon({}) != source_fingerprint(module)

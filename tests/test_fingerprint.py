"""pipeline/trained.py: a change to a component's training code reaches Rasa's cache key."""

import importlib.util

from pipeline import lexical_intents, novelty_guard, sentence_encoder, tfidf
from pipeline.lexical_intents import LexicalIntentClassifier
from pipeline.novelty_guard import NoveltyGuard
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
    assert LexicalIntentClassifier.fingerprint_addon({}) == source_fingerprint(lexical_intents, tfidf)
    # the guard also reads a message sentence by sentence with the encoder module's splitter
    assert NoveltyGuard.fingerprint_addon({}) == source_fingerprint(novelty_guard, tfidf, sentence_encoder)
    for component, module in [(LexicalIntentClassifier, lexical_intents), (NoveltyGuard, novelty_guard)]:
        assert component.fingerprint_addon({}) != source_fingerprint(module)

"""The sparse text features the project's own NLU components share (the novelty guard, the lexical
intent classifier): TF-IDF over words and word pairs, and over character n-grams inside words."""

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion


def tfidf_vectorizer() -> FeatureUnion:
    """Words (and pairs) for meaning, character n-grams for typos and word forms."""
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=True)),
        ]
    )

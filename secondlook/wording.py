"""Small grammar helpers for text assembled from pieces: the indefinite article a word takes."""

import re

# Spelt with a vowel but said with a consonant ("a urologist", "a university", "a one-off"), and spelt
# with a consonant but said with a vowel ("an hour", "an honest").
_VOWEL_LETTER_CONSONANT_SOUND = re.compile(r"^(u[bcfhklmrst][aeiou]|uni[^n]|use|usu|eu|ewe|one\b|once)", re.IGNORECASE)
_CONSONANT_LETTER_VOWEL_SOUND = re.compile(r"^(hour|honest|honou?r|heir)", re.IGNORECASE)
# Acronyms said letter by letter: the letters whose names start with a vowel sound ("an MRI", "an ENT").
_VOWEL_SOUND_LETTERS = "AEFHILMNORSX"


def article(phrase: str) -> str:
    """ "a" or "an", by the sound the phrase starts with: "an" oncology question, "a" cardiology one."""
    words = phrase.split()
    if not words:
        return "a"
    word = words[0]
    if len(word) > 1 and word.isupper():
        return "an" if word[0] in _VOWEL_SOUND_LETTERS else "a"
    if _VOWEL_LETTER_CONSONANT_SOUND.match(word):
        return "a"
    if word[0].lower() in "aeiou" or _CONSONANT_LETTER_VOWEL_SOUND.match(word):
        return "an"
    return "a"


def with_article(phrase: str) -> str:
    """The phrase after the article it takes: "an oncology", "a cardiologist", "a urologist"."""
    return f"{article(phrase)} {phrase}"

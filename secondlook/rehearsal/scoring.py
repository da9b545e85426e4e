"""How well the tagger tags labelled lines: the tally the rehearsal gate and the people's-words gate
both report (scripts/rehearsal_gate.py, scripts/peoples_words.py)."""

from secondlook.rehearsal.assessment import assess_line
from secondlook.rehearsal.model import TAGS


def tag_counts(lines: list[dict]) -> dict[str, list[int]]:
    """Per tag: [true positives, false positives, false negatives] over lines with `text` and `tags`."""
    table = {tag: [0, 0, 0] for tag in TAGS}
    for line in lines:
        expected, got = set(line["tags"]), set(assess_line(line["text"]).tags)
        for tag in TAGS:
            table[tag][0] += tag in expected and tag in got
            table[tag][1] += tag in got and tag not in expected
            table[tag][2] += tag in expected and tag not in got
    return table


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def micro_f1(table: dict[str, list[int]]) -> float:
    tp, fp, fn = (sum(row[i] for row in table.values()) for i in range(3))
    return ratio(2 * tp, 2 * tp + fp + fn)

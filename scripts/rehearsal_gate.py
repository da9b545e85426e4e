"""Rehearsal quality gate: tag every labelled line with the rehearsal engine and fail the build when
micro-F1 falls below the threshold. Prints per-tag precision and recall for the tuning set
(tests/rehearsal/lines.yml) and the held-out set (tests/rehearsal/heldout.yml) apart, then the gate
on both together."""

import sys

import yaml

from secondlook.paths import PROJECT_ROOT
from secondlook.rehearsal import TAGS
from secondlook.rehearsal.scoring import micro_f1, ratio, tag_counts

SETS = {
    "tuning": PROJECT_ROOT / "tests" / "rehearsal" / "lines.yml",
    "held-out": PROJECT_ROOT / "tests" / "rehearsal" / "heldout.yml",
}
MIN_MICRO_F1 = 0.85


def report(name: str, table: dict[str, list[int]], size: int) -> None:
    print(f"\n{name} ({size} lines)")
    print(f"{'tag':18} {'precision':>9} {'recall':>7} {'n':>4}")
    for tag, (tp, fp, fn) in table.items():
        print(f"{tag:18} {ratio(tp, tp + fp):9.3f} {ratio(tp, tp + fn):7.3f} {tp + fn:4d}")
    print(f"{'micro-F1':18} {micro_f1(table):9.3f}")


def main() -> int:
    total = {tag: [0, 0, 0] for tag in TAGS}
    for name, path in SETS.items():
        lines = yaml.safe_load(path.read_text())
        table = tag_counts(lines)
        report(name, table, len(lines))
        for tag in TAGS:
            total[tag] = [a + b for a, b in zip(total[tag], table[tag], strict=True)]
    overall = micro_f1(total)
    passed = overall >= MIN_MICRO_F1
    print(f"\nrehearsal gate: micro-F1 {overall:.3f} (threshold {MIN_MICRO_F1}): {'passed' if passed else 'FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

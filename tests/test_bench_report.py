"""The benchmark's report of one long conversation (scripts/bench.py): medians per block of 20 turns and
the last block over the first, the figure the issue's target (<= 1.3x) is read from."""

import importlib.util

from secondlook.paths import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("bench", PROJECT_ROOT / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_block_medians_take_the_median_of_each_block_of_twenty_turns():
    latencies = [10.0] * 19 + [500.0] + [40.0] * 20 + [7.0, 9.0]
    assert bench.block_medians(latencies) == [10.0, 40.0, 8.0]


def test_the_growth_table_prints_each_block_and_the_last_over_the_first():
    results = [
        {"label": "vanilla", "long_conversation": [30.0] * 20 + [60.0] * 20 + [201.0] * 20},
        {"label": "SecondLook x1", "long_conversation": [80.0] * 40 + [88.0] * 20},
        {"label": "SecondLook x2", "long_conversation": None},  # not measured with two replicas
    ]
    table = bench.growth_table(results).splitlines()
    assert table[0].split() == ["turns", "of", "one", "conversation", "vanilla", "SecondLook", "x1"]
    assert table[1].split() == ["1-20", "(p50)", "30", "ms", "80", "ms"]
    assert table[3].split() == ["41-60", "(p50)", "201", "ms", "88", "ms"]
    assert table[-1].split()[-2:] == ["6.70x", "1.10x"]

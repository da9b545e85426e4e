"""Benchmark: REST turn latency and throughput of one Rasa server + action server, and their memory.

Starts both on free ports with throw-away databases (tests/servers.py), warms up, then measures
sequential latency (p50/p95/p99) and throughput with concurrent users. Prints a table.
Run through `make bench`.
"""

import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import BotProcesses  # noqa: E402

MESSAGES = [
    "i doubt my diagnosis",
    "how do i find a specialist outside my network",
    "where am i",
    "what's next",
    "my doctor got defensive",
]
SEQUENTIAL_TURNS = 200
CONCURRENT_USERS = 8
TURNS_PER_USER = 25


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(status.parent.name) == pid or int(fields.get("PPid", "0").strip()) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total / 1024


def timed_turn(bot: BotProcesses, sender: str, text: str) -> float:
    start = time.perf_counter()
    bot.say(sender, text)
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcesses(Path(tmp))
        started = time.perf_counter()
        bot.start()
        startup_s = time.perf_counter() - started
        try:
            for text in MESSAGES:
                bot.say("warm-up", text)
            sender = f"bench-{uuid.uuid4().hex}"
            latencies = [timed_turn(bot, sender, MESSAGES[i % len(MESSAGES)]) for i in range(SEQUENTIAL_TURNS)]

            def one_user(_: int) -> int:
                user = f"bench-{uuid.uuid4().hex}"
                for i in range(TURNS_PER_USER):
                    bot.say(user, MESSAGES[i % len(MESSAGES)])
                return TURNS_PER_USER

            started = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENT_USERS) as pool:
                turns = sum(pool.map(one_user, range(CONCURRENT_USERS)))
            throughput = turns / (time.perf_counter() - started)
            rasa_mb, actions_mb = rss_mb(bot.rasa_server.pid), rss_mb(bot.action_server.pid)
        finally:
            bot.stop()

    rows = [
        ("servers ready (cold start)", f"{startup_s:.1f} s"),
        (f"REST turn p50 ({SEQUENTIAL_TURNS} sequential)", f"{statistics.median(latencies):.1f} ms"),
        ("REST turn p95", f"{percentile(latencies, 0.95):.1f} ms"),
        ("REST turn p99", f"{percentile(latencies, 0.99):.1f} ms"),
        (f"throughput ({CONCURRENT_USERS} concurrent users)", f"{throughput:.1f} turns/s"),
        ("Rasa server RSS", f"{rasa_mb:.0f} MB"),
        ("action server RSS", f"{actions_mb:.0f} MB"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':{width}}  value")
    for name, value in rows:
        print(f"{name:{width}}  {value}")


if __name__ == "__main__":
    main()

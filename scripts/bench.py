"""Benchmark: the bot as production runs it (Rasa replicas behind nginx, PostgreSQL tracker store and
progress database, Redis lock store, action server), against a vanilla `rasa init` bot in the same venv
on the same stores, measured in one run. Run through `make bench`.

Three set-ups: vanilla `rasa init` (1 replica), SecondLook with 1 replica, SecondLook with 2 replicas.
For each: cold start to ready; per-turn latency p50/p95/p99 for one user; throughput and latency at 16
and 64 concurrent users, each user holding a realistic conversation (fresh sender, first turn starts
the session); resident memory. Prints a table with the ratios, writes results/bench.json and the plot
results/bench-latency.png (latency vs concurrency).
"""

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import rasa
import yaml

from secondlook.devtools.cluster import SECONDLOOK_CONVERSATION, Cluster, production_environment
from secondlook.devtools.databases import create_database, drop_database
from secondlook.devtools.servers import VENV_BIN
from secondlook.paths import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "results"
VANILLA_CACHE = PROJECT_ROOT / "build" / "vanilla"

# What people say, in order, in one conversation with each bot (SecondLook's: devtools/cluster.py).
VANILLA_CONVERSATION = [
    "hi",
    "I am feeling very sad",
    "yes",
    "not really",
    "are you a bot?",
    "I am great now",
    "hello again",
    "super happy",
    "thanks",
    "bye",
]
# One long conversation, one user: does a turn cost more as the conversation grows? (issue: cost per turn)
GROWTH_SCRIPT = {
    "vanilla": VANILLA_CONVERSATION,
    "secondlook": [
        "what's next",
        "ok, I've done that step",
        "where am I?",
        "how do I find a specialist outside my network?",
    ],
}
GROWTH_TURNS = 300
GROWTH_BLOCK = 20
SEQUENTIAL_CONVERSATIONS = 8
CONCURRENCY = (16, 64)
CONVERSATIONS_PER_USER = {16: 2, 64: 1}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


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


def progress(message: str) -> None:
    print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


# --- the vanilla baseline ------------------------------------------------------------------------------


def vanilla_model() -> Path:
    """The model of `rasa init --no-prompt`, trained once and kept under build/ by a hash of the template."""
    template = Path(rasa.__file__).parent / "cli" / "initial_project"
    digest = hashlib.sha256(rasa.__version__.encode())
    for path in sorted(template.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(template)).encode() + path.read_bytes())
    cached = VANILLA_CACHE / f"rasa-init-{digest.hexdigest()[:12]}.tar.gz"
    if cached.exists():
        return cached
    progress("training the vanilla `rasa init` bot (once; cached under build/vanilla) ...")
    with tempfile.TemporaryDirectory(prefix="rasa-init-") as tmp:
        subprocess.run(
            [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", tmp],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        trained = sorted(Path(tmp, "models").glob("*.tar.gz"))[-1]
        shutil.rmtree(VANILLA_CACHE, ignore_errors=True)
        VANILLA_CACHE.mkdir(parents=True)
        shutil.copy(trained, cached)
    return cached


def vanilla_files(workdir: Path) -> tuple[Path, Path]:
    """Rasa's own SQL tracker store and Redis lock store on the same PostgreSQL and Redis; REST only."""
    endpoints = {
        "tracker_store": {
            "type": "SQL",
            "dialect": "postgresql",
            "url": "${DB_HOST}",
            "port": "${DB_PORT}",
            "db": "${DB_NAME}",
            "username": "${DB_USER}",
            "password": "${DB_PASSWORD}",
        },
        "lock_store": {"type": "redis", "url": "${REDIS_HOST}", "port": "${REDIS_PORT}", "key_prefix": "benchvanilla"},
    }
    (workdir / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
    (workdir / "credentials.yml").write_text("rest:\n")
    return workdir / "endpoints.yml", workdir / "credentials.yml"


# --- load -------------------------------------------------------------------------------------------------


async def converse(session: aiohttp.ClientSession, url: str, script: list[str], latencies: list[float]) -> None:
    sender = f"bench-{uuid.uuid4().hex}"
    for message in script:
        started = time.perf_counter()
        async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}) as reply:
            reply.raise_for_status()
            await reply.read()
        latencies.append((time.perf_counter() - started) * 1000)


async def load(url: str, script: list[str], users: int, conversations_each: int, label: str) -> dict:
    latencies: list[float] = []
    total = users * conversations_each * len(script)

    async def user() -> None:
        for _ in range(conversations_each):
            await converse(session, url, script, latencies)

    async def report() -> None:
        while True:
            progress(f"{label}: {users} user(s), {len(latencies)}/{total} turns")
            await asyncio.sleep(0.5)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        reporter = asyncio.create_task(report())
        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - started
        reporter.cancel()
    return {
        "users": users,
        "turns": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
    }


async def grow(url: str, script: list[str], turns: int = GROWTH_TURNS) -> list[float]:
    """The latency of each turn of one conversation of `turns` turns (the script repeated), in ms."""
    progress(f"one long conversation: {turns} turns")
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        await converse(session, url, [script[turn % len(script)] for turn in range(turns)], latencies)
    return latencies


def block_medians(latencies: list[float], block: int = GROWTH_BLOCK) -> list[float]:
    """The median latency of each block of `block` turns (turns 1-20, 21-40, ...)."""
    return [statistics.median(latencies[start : start + block]) for start in range(0, len(latencies), block)]


# --- one set-up ----------------------------------------------------------------------------------------------


def measure(label: str, replicas: int, vanilla: bool) -> dict:
    database = create_database("secondlook_bench")
    try:
        with tempfile.TemporaryDirectory(prefix="secondlook-bench-") as tmp:
            workdir = Path(tmp)
            if vanilla:
                endpoints, credentials = vanilla_files(workdir)
                cluster = Cluster(
                    workdir,
                    production_environment(database),
                    replicas=replicas,
                    action_servers=0,
                    endpoints=endpoints,
                    model=vanilla_model(),
                    credentials=credentials,
                )
            else:
                # One sender sends 300 turns back to back in the long conversation: a person is held to
                # a message a second after a burst of 20 (channels/guard.py RateLimiter); the benchmark
                # measures turns, not the limiter, so it lifts the limit for its own servers.
                environment = {
                    **production_environment(database),
                    "SECONDLOOK_RATE_PER_SECOND": "1000",
                    "SECONDLOOK_RATE_BURST": "1000",
                }
                cluster = Cluster(workdir, environment, replicas=replicas, action_servers=replicas)
            script = VANILLA_CONVERSATION if vanilla else SECONDLOOK_CONVERSATION
            progress(f"{label}: starting ...")
            started = time.perf_counter()
            cluster.start()
            try:
                cold_start = time.perf_counter() - started
                asyncio.run(load(cluster.url, script, 2, 1, f"{label} warm-up"))
                levels = [asyncio.run(load(cluster.url, script, 1, SEQUENTIAL_CONVERSATIONS, label))]
                for users in CONCURRENCY:
                    levels.append(asyncio.run(load(cluster.url, script, users, CONVERSATIONS_PER_USER[users], label)))
                long_conversation = (
                    asyncio.run(grow(cluster.url, GROWTH_SCRIPT["vanilla" if vanilla else "secondlook"]))
                    if replicas == 1
                    else None
                )
                rasa_rss = max(rss_mb(process.pid) for process in cluster.replicas)
                actions_rss = sum(rss_mb(process.pid) for process in cluster.action_servers)
            finally:
                cluster.stop()
    finally:
        drop_database(database)
    progress(f"{label}: done\n")
    return {
        "label": label,
        "cold_start": cold_start,
        "levels": levels,
        "rasa_rss": rasa_rss,
        "actions_rss": actions_rss,
        "long_conversation": long_conversation,
    }


# --- report ------------------------------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    def level(result: dict, users: int) -> dict:
        return next(entry for entry in result["levels"] if entry["users"] == users)

    rows = [("servers ready (cold start)", [f"{r['cold_start']:.0f} s" for r in results])]
    for key in ("p50", "p95", "p99"):
        rows.append((f"turn {key}, 1 user", [f"{level(r, 1)[key]:.0f} ms" for r in results]))
    for users in CONCURRENCY:
        rows.append((f"throughput, {users} users", [f"{level(r, users)['throughput']:.1f} turns/s" for r in results]))
        rows.append(
            (
                f"turn p50 / p99, {users} users",
                [f"{level(r, users)['p50']:.0f} / {level(r, users)['p99']:.0f} ms" for r in results],
            )
        )
    rows.append(("Rasa server RSS (per replica)", [f"{r['rasa_rss']:.0f} MB" for r in results]))
    rows.append(
        ("action server(s) RSS, total", [f"{r['actions_rss']:.0f} MB" if r["actions_rss"] else "-" for r in results])
    )
    header = ["measure", *(r["label"] for r in results)]
    widths = [max(len(str(row[0])) for row in [*rows, (header[0],)])]
    widths += [max(len(header[i + 1]), *(len(row[1][i]) for row in rows)) for i in range(len(results))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    for name, cells in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip([name, *cells], widths, strict=True)))
    return "\n".join(lines)


def growth_table(results: list[dict]) -> str:
    """Median latency per block of turns of one long conversation, and the last block over the first."""
    measured = [r for r in results if r.get("long_conversation")]
    blocks = {r["label"]: block_medians(r["long_conversation"]) for r in measured}
    lines = ["turns of one conversation  " + "  ".join(f"{label:>18}" for label in blocks)]
    for index in range(len(next(iter(blocks.values()), []))):
        first, last = index * GROWTH_BLOCK + 1, (index + 1) * GROWTH_BLOCK
        lines.append(
            f"{first:>4}-{last:<4} (p50)            " + "  ".join(f"{b[index]:>15.0f} ms" for b in blocks.values())
        )
    lines.append("last block / first block     " + "  ".join(f"{b[-1] / b[0]:>17.2f}x" for b in blocks.values()))
    return "\n".join(lines)


def ratios(vanilla: dict, one: dict, two: dict) -> list[str]:
    def level(result: dict, users: int) -> dict:
        return next(entry for entry in result["levels"] if entry["users"] == users)

    lines = [f"p50 per turn, SecondLook / vanilla (1 user): {level(one, 1)['p50'] / level(vanilla, 1)['p50']:.2f}x"]
    for users in CONCURRENCY:
        gain = level(two, users)["throughput"] / level(one, users)["throughput"]
        lines.append(f"throughput, 2 replicas / 1 replica ({users} users): {gain:.2f}x")
    share = level(one, 16)["throughput"] / level(vanilla, 16)["throughput"]
    lines.append(f"throughput, SecondLook x1 / vanilla (16 users): {share:.2f}x")
    lines.append(f"largest Rasa server RSS: {max(r['rasa_rss'] for r in (vanilla, one, two)):.0f} MB")
    return lines


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, result in enumerate(results):
        users = [entry["users"] for entry in result["levels"]]
        color = f"C{index}"
        axes.plot(users, [e["p50"] for e in result["levels"]], marker="o", color=color, label=f"{result['label']} p50")
        axes.plot(
            users,
            [e["p99"] for e in result["levels"]],
            marker="x",
            linestyle="--",
            color=color,
            label=f"{result['label']} p99",
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks([1, *CONCURRENCY], labels=[str(n) for n in (1, *CONCURRENCY)])
    axes.set_xlabel("concurrent users")
    axes.set_ylabel("latency per turn (ms)")
    axes.set_title("REST turn latency vs concurrency (behind nginx, PostgreSQL + Redis)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def plot_growth(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, result in enumerate(r for r in results if r.get("long_conversation")):
        medians = block_medians(result["long_conversation"])
        middles = [block * GROWTH_BLOCK + GROWTH_BLOCK / 2 for block in range(len(medians))]
        axes.plot(middles, medians, marker="o", color=f"C{index}", label=f"{result['label']} (p50 of 20 turns)")
    axes.set_xlabel("turn of one conversation")
    axes.set_ylabel("latency per turn (ms)")
    axes.set_title("Does a turn cost more as the conversation grows? (one user, REST)")
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    vanilla_model()
    results = [
        measure("vanilla rasa init", 1, vanilla=True),
        measure("SecondLook x1", 1, vanilla=False),
        measure("SecondLook x2", 2, vanilla=False),
    ]
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2))
    plot(results, RESULTS / "bench-latency.png")
    plot_growth(results, RESULTS / "bench-growth.png")
    print(table(results))
    print()
    print(growth_table(results))
    print()
    print("\n".join(ratios(*results)))
    print(
        f"\nplots: {RESULTS / 'bench-latency.png'}, {RESULTS / 'bench-growth.png'}; figures: {RESULTS / 'bench.json'}"
    )


if __name__ == "__main__":
    main()

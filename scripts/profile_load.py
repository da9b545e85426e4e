"""Where the CPU goes under load: py-spy samples the Rasa server and the action server while 16 users
talk to the bot at once (the 16-user step of `make bench`: one replica, one action server, PostgreSQL
and Redis behind nginx), and writes one flame graph (SVG) per process. Run through `make profile`.

    make profile                      # docs/profile/{rasa,actions}-16-users.svg
    make profile PROFILE_LABEL=before # docs/profile/{rasa,actions}-16-users-before.svg

py-spy reads the processes' stacks from outside (ptrace): nothing in the bot changes while it is sampled.
"""

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from bench import CONVERSATIONS_PER_USER, load

from secondlook.devtools.cluster import SECONDLOOK_CONVERSATION, Cluster, production_environment
from secondlook.devtools.databases import create_database, drop_database
from secondlook.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "profile"
USERS = 16
SAMPLES_PER_SECOND = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py-spy", required=True, help="the py-spy executable")
    parser.add_argument("--label", default="", help="added to the file names (before, after)")
    parser.add_argument("--rounds", type=int, default=3, help="conversations per user, several for a steady state")
    parser.add_argument("--raw", action="store_true", help="collapsed stacks (text) into results/profile/ instead")
    args = parser.parse_args()
    out = PROJECT_ROOT / "results" / "profile" if args.raw else OUT
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"-{args.label}" if args.label else ""
    kind, extension = ("raw", "txt") if args.raw else ("flamegraph", "svg")
    database = create_database("secondlook_profile")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="secondlook-profile-") as tmp,
            Cluster(Path(tmp), production_environment(database), replicas=1, action_servers=1) as cluster,
        ):
            asyncio.run(load(cluster.url, SECONDLOOK_CONVERSATION, 2, 1, "warm-up"))
            targets = {"rasa": cluster.replicas[0].pid, "actions": cluster.action_servers[0].pid}
            samplers = [
                subprocess.Popen(
                    [
                        args.py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        str(SAMPLES_PER_SECOND),
                        "--subprocesses",
                        "--nonblocking",
                        "--format",
                        kind,
                        "--output",
                        str(out / f"{name}-{USERS}-users{suffix}.{extension}"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )  # fmt: skip
                for name, pid in targets.items()
            ]
            time.sleep(2)  # py-spy attaches
            result = asyncio.run(
                load(
                    cluster.url,
                    SECONDLOOK_CONVERSATION,
                    USERS,
                    CONVERSATIONS_PER_USER[USERS] * args.rounds,
                    "16 users",
                )
            )
            for sampler in samplers:
                sampler.send_signal(2)  # SIGINT: py-spy writes the flame graph and stops
            for sampler in samplers:
                sampler.wait(timeout=120)
    finally:
        drop_database(database)
    print(f"\n{result['turns']} turns, {result['throughput']:.1f} turns/s, p50 {result['p50']:.0f} ms")
    for name in ("rasa", "actions"):
        print(f"profile: {out / f'{name}-{USERS}-users{suffix}.{extension}'}")


if __name__ == "__main__":
    main()

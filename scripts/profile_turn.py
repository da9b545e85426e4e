"""Where a turn spends its time: NLU, policies, action server round trips, tracker store, lock store.

Loads the trained model in this process with the production endpoints (PostgreSQL tracker store in a
throw-away database, the Redis lock store) and a real action server, plays the benchmark conversation
several times, and prints the mean milliseconds per turn of each part.

    SECONDLOOK_MODEL=models/secondlook-<hash>.tar.gz .venv/bin/python scripts/profile_turn.py
"""

import asyncio
import functools
import os
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from secondlook.devtools.cluster import PRODUCTION_ENDPOINTS, SECONDLOOK_CONVERSATION, production_environment
from secondlook.devtools.databases import create_database, drop_database
from secondlook.devtools.servers import BotProcesses, trained_model

CONVERSATIONS = 10
spent: dict[str, list[float]] = defaultdict(list)


def timed(part: str, function, is_async: bool):
    if is_async:

        @functools.wraps(function)
        async def async_wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                spent[part].append((time.perf_counter() - started) * 1000)

        return async_wrapper

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[part].append((time.perf_counter() - started) * 1000)

    return wrapper


async def profile(model: Path) -> int:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import load_agent
    from rasa.core.channels import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    agent = await load_agent(model_path=str(model), endpoints=AvailableEndpoints.read_endpoints(PRODUCTION_ENDPOINTS))
    processor = agent.processor
    processor.parse_message = timed("NLU (parse)", processor.parse_message, True)
    processor._predict_next_with_tracker = timed(
        "policies (per prediction)", processor._predict_next_with_tracker, False
    )
    RemoteAction.run = timed("action server round trip", RemoteAction.run, True)
    store = agent.tracker_store
    store.retrieve = timed("tracker store: load", store.retrieve, True)
    store.save = timed("tracker store: save", store.save, True)
    lock_store = agent.lock_store
    for name in ("issue_ticket", "try_acquire", "cleanup"):
        if hasattr(lock_store, name):
            setattr(lock_store, name, timed("lock store (Redis)", getattr(lock_store, name), False))

    turns = 0
    for index in range(CONVERSATIONS + 1):
        sender = f"profile-{uuid.uuid4().hex}"
        for text in SECONDLOOK_CONVERSATION:
            started = time.perf_counter()
            await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
            elapsed = (time.perf_counter() - started) * 1000
            if index == 0:
                continue  # warm-up
            spent["whole turn"].append(elapsed)
            turns += 1
        if index == 0:
            spent.clear()
    return turns


def main() -> None:
    database = create_database("secondlook_profile")
    env = production_environment(database)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            actions = BotProcesses(Path(tmp), env=env, endpoints=PRODUCTION_ENDPOINTS)
            actions.start_action_server()
            os.environ.update(
                env,
                ACTION_SERVER_URL=f"http://127.0.0.1:{actions.action_port}/webhook",
                SECONDLOOK_ACTION_TOKEN=actions.env["SECONDLOOK_ACTION_TOKEN"],
            )
            try:
                turns = asyncio.run(profile(trained_model()))
            finally:
                actions.stop()
    finally:
        drop_database(database)
    print(f"{'part':32} {'calls/turn':>10} {'ms/turn':>8} {'ms/call (median)':>17}")
    for part, values in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"{part:32} {len(values) / turns:10.2f} {sum(values) / turns:8.1f} {statistics.median(values):17.1f}")


if __name__ == "__main__":
    main()

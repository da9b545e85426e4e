"""A flood, in a process of its own (so the flooding threads don't compete with the measuring test for
its interpreter lock): posts at a fixed rate until SIGTERM, then prints the count of each answer status
as JSON (-1: all connections busy, 0: no answer).

Usage: flooder.py URL SENDER RATE [FORWARDED_FOR]. A SENDER with `{n}` in it is a new sender each
message (`{n}` is the message's number): the flood that rotates sender ids. FORWARDED_FOR is sent as
X-Forwarded-For, the address a trusted proxy would report."""

import json
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import requests


def main(url: str, sender: str, per_second: float, forwarded_for: str | None = None) -> None:
    statuses: Counter = Counter()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    session, free = requests.Session(), threading.BoundedSemaphore(16)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    numbers = count()

    def send() -> None:
        body = {"sender": sender.replace("{n}", str(next(numbers))), "message": "what can you do?"}
        try:
            statuses[session.post(url, json=body, headers=headers, timeout=10).status_code] += 1
        except requests.RequestException:
            statuses[0] += 1
        finally:
            free.release()

    pool = ThreadPoolExecutor(max_workers=16)
    next_at = time.perf_counter()
    while not stop.is_set():
        if free.acquire(blocking=False):
            pool.submit(send)
        else:
            statuses[-1] += 1
        next_at += 1 / per_second
        time.sleep(max(0.0, next_at - time.perf_counter()))
    pool.shutdown(wait=True, cancel_futures=True)
    print(json.dumps(statuses))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), *sys.argv[4:5])

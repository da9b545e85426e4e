"""The Redis lock store (stores/lock_store.py) against the real Redis on this machine: tickets unique and
in order across processes, one holder at a time, expiry of a crashed holder, renewal of a long one.
Every test uses a key prefix of its own and removes its keys."""

import asyncio
import multiprocessing
import threading
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from channels.common import log_id
from stores.lock_store import AtomicRedisLockStore

REDIS = {"host": "127.0.0.1", "port": 6379}


@pytest.fixture
def prefix():
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis(**REDIS, db=1)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def store_for(prefix: str) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(client=redis.Redis(**REDIS, db=1), key_prefix=prefix)


def test_rasa_builds_it_from_the_endpoints_entry(prefix):
    config = EndpointConfig(
        url="127.0.0.1", type="stores.lock_store.AtomicRedisLockStore", port=6379, key_prefix=prefix
    )
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == f"{prefix}:tlock:"
    assert store.issue_ticket("c") == 0


def test_tickets_are_unique_and_consecutive_under_concurrency(prefix):
    stores = [store_for(prefix) for _ in range(4)]
    issued: list[int] = []
    start = threading.Barrier(16)

    def draw(index: int) -> None:
        start.wait()
        for _ in range(20):
            issued.append(stores[index % 4].issue_ticket("one-conversation"))

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(issued) == list(range(320))


def test_turns_are_served_in_ticket_order_and_the_lock_is_removed_after(prefix):
    store = store_for(prefix)
    first, second = store.issue_ticket("c"), store.issue_ticket("c")
    assert store.try_acquire("c", first) and not store.try_acquire("c", second)
    assert [ticket.number for ticket in store.get_lock("c").tickets] == [first, second]
    store.cleanup("c", first)
    assert store.try_acquire("c", second)
    store.cleanup("c", second)
    assert store.get_lock("c") is None
    assert not store.red.exists(store._key("c"))


def _hold_and_count(prefix: str, conversation: str, turns: int) -> None:
    """One process: `turns` concurrent coroutines, each a read-modify-write of a counter under the lock."""
    store = store_for(prefix)
    counter, inside = f"{prefix}:counter", f"{prefix}:inside"

    async def turn() -> None:
        async with store.lock(conversation):
            if store.red.incr(inside) != 1:
                store.red.incr(f"{prefix}:overlaps")
            value = int(store.red.get(counter) or 0)
            await asyncio.sleep(0.002)
            store.red.set(counter, value + 1)
            store.red.decr(inside)

    async def all_turns() -> None:
        await asyncio.gather(*(turn() for _ in range(turns)))

    asyncio.run(all_turns())


def test_one_holder_at_a_time_across_processes(prefix):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hold_and_count, args=(prefix, "shared", 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    client = redis.Redis(**REDIS, db=1)
    assert int(client.get(f"{prefix}:counter")) == 100
    assert client.get(f"{prefix}:overlaps") is None
    assert not client.exists(f"{prefix}:tlock:shared")


async def test_a_crashed_holder_frees_the_conversation_after_its_lifetime(prefix):
    store = store_for(prefix)
    store.issue_ticket("c", lock_lifetime=0.3)  # a process that died before releasing
    started = time.monotonic()
    async with store.lock("c", lock_lifetime=5):
        waited = time.monotonic() - started
    assert 0.2 < waited < 2


async def test_a_long_turn_keeps_its_lock_beyond_the_lifetime(prefix):
    store = store_for(prefix)
    order: list[str] = []

    async def long_turn() -> None:
        async with store.lock("c", lock_lifetime=0.3):
            order.append("long starts")
            await asyncio.sleep(1.0)
            order.append("long ends")

    async def next_turn() -> None:
        await asyncio.sleep(0.05)
        async with store.lock("c", lock_lifetime=0.3):
            order.append("next")

    await asyncio.gather(long_turn(), next_turn())
    assert order == ["long starts", "long ends", "next"]


def test_an_expired_ticket_cannot_be_served(prefix):
    store = store_for(prefix)
    ticket = store.issue_ticket("c", lock_lifetime=0.1)
    time.sleep(0.2)
    with pytest.raises(LockError):
        store.try_acquire("c", ticket)


def test_save_and_get_lock_keep_rasas_api(prefix):
    store = store_for(prefix)
    lock = store.create_lock("c")
    lock.issue_ticket(30)
    lock.issue_ticket(30)
    store.save_lock(lock)
    assert [ticket.number for ticket in store.get_lock("c").tickets] == [0, 1]
    assert store.issue_ticket("c") == 2  # never a number twice
    assert store.is_someone_waiting("c")
    store.delete_lock("c")
    assert not store.is_someone_waiting("c")


def _draw_at_once(stores: list, conversation: str) -> list[int]:
    start = threading.Barrier(len(stores))
    issued: list[int] = []

    def draw(store) -> None:
        start.wait()
        issued.append(store.issue_ticket(conversation))

    threads = [threading.Thread(target=draw, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return issued


def test_the_stock_redis_lock_store_hands_out_one_ticket_twice(prefix):
    """Why this module exists: Rasa's store issues tickets with a GET and a SET."""
    stores = [RedisLockStore(**REDIS, key_prefix=prefix) for _ in range(8)]
    duplicated = 0
    for attempt in range(30):
        issued = _draw_at_once(stores, f"c{attempt}")
        duplicated += len(issued) - len(set(issued))
        stores[0].delete_lock(f"c{attempt}")
    assert duplicated > 0


def test_ours_never_does(prefix):
    stores = [store_for(prefix) for _ in range(8)]
    for attempt in range(30):
        issued = _draw_at_once(stores, f"c{attempt}")
        assert sorted(issued) == list(range(8))
        stores[0].delete_lock(f"c{attempt}")


async def test_a_failed_renewal_logs_a_hash_of_the_conversation_not_its_id(prefix, caplog):
    """The conversation id is the sender id (for the web chat, a session id that works like a password)."""
    store = store_for(prefix)
    conversation = "webchat-sender-4f1c9e"
    with caplog.at_level("DEBUG", logger="stores.lock_store"):
        async with store.lock(conversation, lock_lifetime=0.3):
            store.red.delete(store._key(conversation))  # the ticket is gone: the next renewal fails
            await asyncio.sleep(0.35)
    renewal_warnings = [record for record in caplog.records if "renew" in record.getMessage()]
    assert renewal_warnings
    assert conversation not in caplog.text
    assert log_id(conversation) in renewal_warnings[0].getMessage()


def test_a_lost_ticket_names_the_conversation_by_its_hash(prefix):
    store = store_for(prefix)
    ticket = store.issue_ticket("webchat-sender-4f1c9e", lock_lifetime=0.05)
    time.sleep(0.1)
    with pytest.raises(LockError) as lost:
        store.try_acquire("webchat-sender-4f1c9e", ticket)
    assert "webchat-sender-4f1c9e" not in str(lost.value) and log_id("webchat-sender-4f1c9e") in str(lost.value)

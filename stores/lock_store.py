"""A Redis lock store that is correct across Rasa replicas.

Rasa 3.6's `RedisLockStore` reads the conversation's ticket lock with GET, changes it in Python and
writes it back with SET: two replicas that receive turns of one conversation at the same moment both
draw ticket 0 and process at once, and the later tracker save drops the other turn's events
(RasaHQ/rasa #9213). Here every change to a lock is one Lua script, run atomically by Redis:

- a conversation's lock is one Redis hash: `seq` (the last ticket number, HINCRBY) and one field
  `t<number>` per live ticket, holding the ticket's expiry (milliseconds, Redis clock);
- issuing a ticket, asking "is it my turn?" and releasing are single scripts, so tickets are unique
  and served in the order they were issued, by however many processes;
- a ticket expires `lock_lifetime` seconds after it was last renewed: a waiting turn renews its ticket
  each time it polls and the turn holding the lock renews it in the background, so a live turn is
  never overtaken, while the tickets of a crashed process free the conversation after one lifetime.

Plugged in with `lock_store: type: stores.lock_store.AtomicRedisLockStore` (endpoints), with the same
options as Rasa's `redis` lock store (url, port, db, username, password, use_ssl, key_prefix).
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from channels.common import log_id

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "secondlook"
DEFAULT_SOCKET_TIMEOUT_S = 10
# How often a waiting turn asks whether it is its turn: short, since a turn lasts tens of milliseconds.
DEFAULT_POLL_INTERVAL_S = 0.005
MAX_POLL_INTERVAL_S = 0.05

# Shared head of every script: the Redis clock in ms, and dropping the tickets that have expired.
_PRUNE = """
local key = KEYS[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function live_tickets()
  local fields = redis.call('HGETALL', key)
  local numbers = {}
  for i = 1, #fields, 2 do
    if fields[i] ~= 'seq' then
      if tonumber(fields[i + 1]) <= now then
        redis.call('HDEL', key, fields[i])
      else
        numbers[#numbers + 1] = tonumber(string.sub(fields[i], 2))
      end
    end
  end
  table.sort(numbers)
  return numbers
end
local function keep_key_alive(lifetime)
  if redis.call('PTTL', key) < lifetime then redis.call('PEXPIRE', key, lifetime) end
end
"""

# ARGV: lifetime (ms). Returns the new ticket's number.
_ISSUE = (
    _PRUNE
    + """
local lifetime = tonumber(ARGV[1])
live_tickets()
local number = redis.call('HINCRBY', key, 'seq', 1)
redis.call('HSET', key, 't' .. number, now + lifetime)
keep_key_alive(lifetime)
return number
"""
)

# ARGV: ticket, lifetime (ms). Renews the ticket; returns 1 when it is first in line, 0 when it must
# wait, -1 when the ticket is gone (it expired, or the lock was deleted).
_TRY = (
    _PRUNE
    + """
local ticket, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2])
local numbers = live_tickets()
if redis.call('HEXISTS', key, 't' .. ticket) == 0 then return -1 end
redis.call('HSET', key, 't' .. ticket, now + lifetime)
keep_key_alive(lifetime)
if numbers[1] == ticket then return 1 end
return 0
"""
)

# ARGV: ticket. Removes the ticket, and the whole lock when no ticket is left. Returns tickets left.
_RELEASE = (
    _PRUNE
    + """
redis.call('HDEL', key, 't' .. ARGV[1])
local left = #live_tickets()
if left == 0 then redis.call('DEL', key) end
return left
"""
)

# Drops expired tickets, and the lock when none is left. Returns tickets left.
_PRUNE_ONLY = (
    _PRUNE
    + """
local left = #live_tickets()
if left == 0 then redis.call('DEL', key) end
return left
"""
)

# ARGV: lifetime (ms), then pairs of ticket number and expiry (ms). Replaces the tickets; the ticket
# counter never goes back, so a number is never issued twice.
_REPLACE = (
    _PRUNE
    + """
local lifetime = tonumber(ARGV[1])
local seq = tonumber(redis.call('HGET', key, 'seq') or '0')
redis.call('DEL', key)
for i = 2, #ARGV, 2 do
  local number = tonumber(ARGV[i])
  if number > seq then seq = number end
  redis.call('HSET', key, 't' .. number, ARGV[i + 1])
end
if #ARGV > 1 then
  redis.call('HSET', key, 'seq', seq)
  keep_key_alive(lifetime)
end
return seq
"""
)

# Python ticket numbers start at 0 like Rasa's TicketLock; Redis's HINCRBY starts at 1.
_FIRST_REDIS_TICKET = 1


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class AtomicRedisLockStore(LockStore):
    """Ticket locks in Redis whose every change is one atomic script: safe across processes."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        *,
        client: redis.Redis | None = None,
        key_prefix: str | None = None,
        poll_interval: float | None = None,
    ) -> None:
        options = dict(endpoint_config.kwargs) if endpoint_config else {}
        self.red = client or redis.Redis(
            host=(endpoint_config.url if endpoint_config and endpoint_config.url else "localhost"),
            port=int(options.get("port") or 6379),
            db=int(options.get("db") or 1),
            username=options.get("username"),
            password=options.get("password"),
            ssl=bool(options.get("use_ssl", False)),
            socket_timeout=float(options.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT_S),
        )
        prefix = str(key_prefix or options.get("key_prefix") or DEFAULT_KEY_PREFIX)
        self.key_prefix = f"{prefix}:tlock:"
        self.poll_interval = float(poll_interval or options.get("poll_interval") or DEFAULT_POLL_INTERVAL_S)
        self._issue = self.red.register_script(_ISSUE)
        self._try = self.red.register_script(_TRY)
        self._release = self.red.register_script(_RELEASE)
        self._replace = self.red.register_script(_REPLACE)
        self._prune = self.red.register_script(_PRUNE_ONLY)
        super().__init__()

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    # --- Rasa's LockStore API, every call atomic ----------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=[self._key(conversation_id)], args=[_ms(lock_lifetime)])) - _FIRST_REDIS_TICKET
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        fields = self.red.hgetall(self._key(conversation_id))
        now_ms = time.time() * 1000
        tickets = sorted(
            (int(name[1:]) - _FIRST_REDIS_TICKET, int(expires))
            for name, expires in ((k.decode(), v) for k, v in fields.items())
            if name.startswith("t") and int(expires) > now_ms
        )
        if not tickets:
            return None
        return TicketLock(conversation_id, deque(Ticket(number, expires / 1000) for number, expires in tickets))

    def save_lock(self, lock: TicketLock) -> None:
        """Replace the conversation's tickets with `lock`'s (Rasa's API; `lock()` never needs it)."""
        lock.remove_expired_tickets()
        args: list = [_ms(LOCK_LIFETIME)]
        for ticket in lock.tickets:
            args += [ticket.number + _FIRST_REDIS_TICKET, int(ticket.expires * 1000)]
        self._replace(keys=[self._key(lock.conversation_id)], args=args)

    def delete_lock(self, conversation_id: str) -> None:
        deleted = bool(self.red.delete(self._key(conversation_id)))
        logger.debug("%s the lock of conversation %s.", "Deleted" if deleted else "Found no", log_id(conversation_id))

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (one script; the base class would read, change and write back)."""
        self._prune(keys=[self._key(conversation_id)])

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Release `ticket_number`; the lock goes when no ticket is left (one script, no gap between)."""
        self._release(keys=[self._key(conversation_id)], args=[ticket_number + _FIRST_REDIS_TICKET])

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self.get_lock(conversation_id) is not None

    def try_acquire(self, conversation_id: str, ticket: int, lock_lifetime: float = LOCK_LIFETIME) -> bool:
        """Whether `ticket` is first in line now (and renew it). LockError when the ticket is gone."""
        state = int(
            self._try(keys=[self._key(conversation_id)], args=[ticket + _FIRST_REDIS_TICKET, _ms(lock_lifetime)])
        )
        if state < 0:
            raise LockError(f"Could not acquire the lock of conversation {log_id(conversation_id)}: ticket expired.")
        return state == 1

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock while the block runs; turns are served in ticket order.

        Rasa's callers pass no wait time (1 s): polling that slowly would add up to a second to a turn
        that waits behind another, so the poll interval starts at a few milliseconds and grows.
        """
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        renewal: asyncio.Task | None = None
        try:
            interval = min(self.poll_interval, wait_time_in_seconds)
            while not self.try_acquire(conversation_id, ticket, lock_lifetime):
                await asyncio.sleep(interval)
                interval = min(interval * 2, MAX_POLL_INTERVAL_S, max(wait_time_in_seconds, self.poll_interval))
            logger.debug("Acquired the lock of conversation %s (ticket %d).", log_id(conversation_id), ticket)
            renewal = asyncio.create_task(self._keep_renewed(conversation_id, ticket, lock_lifetime))
            yield TicketLock(conversation_id, deque([Ticket(ticket, time.time() + lock_lifetime)]))
        finally:
            if renewal:
                renewal.cancel()
                with suppress(asyncio.CancelledError):
                    await renewal
            self.cleanup(conversation_id, ticket)

    async def _keep_renewed(self, conversation_id: str, ticket: int, lock_lifetime: float) -> None:
        """Renew the held ticket every third of its lifetime, so a long turn is never overtaken."""
        while True:
            await asyncio.sleep(lock_lifetime / 3)
            try:
                self.try_acquire(conversation_id, ticket, lock_lifetime)
            except (LockError, redis.RedisError) as error:
                # The id is personal data (for the web chat a session id, which works like a password).
                logger.warning("Could not renew the lock of conversation %s: %s", log_id(conversation_id), error)

"""Lesson 10: the state every machine must share, on Redis (``LESSONS_REDIS_URL``).

Several machines behind a load balancer each have their own workers; a count kept on one
machine lets an attacker spread guesses across all of them. Redis is one store they all reach:

- **attempts**: one sorted set per key, each attempt a member scored by its time. ``hit`` is
  one Lua script, which Redis runs start to end with nothing in between (no other command of
  any client): it drops what left the window, counts every key, and records the attempt under
  all of them only if none is at its limit. Time is Redis' own (``TIME``), so machines whose
  clocks differ still agree on the window;
- **revoked tokens**: one key per revoked ``jti``, expiring when the token would have.

The ``redis`` client is installed with the workbook (``pyproject.toml``'s ``load`` extra); the
service imports it only when ``LESSONS_REDIS_URL`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from lessons.ratelimit.attempts import Hit, new_attempt, whole_seconds
from lessons.settings import ConfigurationError

if TYPE_CHECKING:
    import redis

PREFIX = "lessons:"

# KEYS: the keys; ARGV[1]: the window in seconds, ARGV[2]: the attempt's id, ARGV[3...]: each
# key's limit. Returns the seconds to wait ("0": recorded). Numbers go back as strings:
# Redis turns a Lua number into an integer, which would cut 0.4 s to 0.
HIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[i + 2])
  if limit <= 0 then
    wait = math.max(wait, window)
  else
    local oldest = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
    if oldest[2] then
      wait = math.max(wait, tonumber(oldest[2]) + window - now)
    end
  end
end
if wait > 0 then
  return tostring(wait)
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('EXPIRE', key, math.ceil(window))
end
return '0'
"""

RECORD = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1])))
end
return '0'
"""

COUNT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. tostring(now - tonumber(ARGV[1])), '+inf')
"""


def connect(url: str) -> redis.Redis:
    """A client for ``url``, with short timeouts: a limiter that waits for a Redis that does
    not answer holds every login with it."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError(
            "LESSONS_REDIS_URL is set, but the redis client is not installed: "
            "`pip install -r requirements.txt` installs it (or unset LESSONS_REDIS_URL to keep "
            "the state in the service's database).") from None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                decode_responses=True)


class RedisAttempts:
    """The limiter's attempts on Redis: the same operations as ``SqliteAttempts``."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._hit = client.register_script(HIT)
        self._record = client.register_script(RECORD)
        self._count = client.register_script(COUNT)

    async def hit(self, limits: Mapping[str, int], window: int) -> Hit:
        keys = tuple(limits)
        attempt = new_attempt()
        wait = float(await self._call(self._hit, [PREFIX + k for k in keys],
                                      [window, attempt, *limits.values()]))
        return Hit(whole_seconds(wait)) if wait > 0 else Hit(0, attempt, keys)

    async def count(self, key: str, window: int) -> int:
        return int(await self._call(self._count, [PREFIX + key], [window]))

    async def record(self, keys: Iterable[str], window: int) -> Hit:
        chosen, attempt = tuple(keys), new_attempt()
        await self._call(self._record, [PREFIX + k for k in chosen], [window, attempt])
        return Hit(0, attempt, chosen)

    async def forgive(self, hit: Hit) -> None:
        if hit.attempt:
            await anyio.to_thread.run_sync(self._forgive, hit)

    async def clear(self, key: str) -> None:
        await anyio.to_thread.run_sync(self.client.delete, PREFIX + key)

    def _forgive(self, hit: Hit) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for name in hit.keys:
                pipe.zrem(PREFIX + name, hit.attempt)
            pipe.execute()

    @staticmethod
    async def _call(script: Any, keys: list[str], args: list[object]) -> Any:
        return await anyio.to_thread.run_sync(lambda: script(keys=keys, args=args))


class RedisState:
    """The shared state on Redis: the limiter's attempts, and the revoked tokens (the store
    asks it, once lesson 10's start-up work has set ``store.revocations``)."""

    def __init__(self, url: str) -> None:
        self.client = connect(url)
        self.attempts = RedisAttempts(self.client)

    def revoke_token(self, jti: str, expires_at: int) -> None:
        """Remember ``jti`` until the token would have expired anyway (Redis forgets it then)."""
        self.client.set(f"{PREFIX}revoked:{jti}", 1, exat=max(expires_at, 1), nx=True)

    def is_revoked(self, jti: str) -> bool:
        # One round trip on the event loop: about as long as the SQLite lookup it replaces on
        # a nearby Redis, and the request cannot go on without the answer.
        return bool(self.client.exists(f"{PREFIX}revoked:{jti}"))

    def close(self) -> None:
        self.client.close()

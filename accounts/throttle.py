"""Login throttling: failed logins counted per account and per client address, with a growing wait.

After FREE_FAILURES failures of one account (its normalised e-mail) the next try waits one
minute, then two, four... up to MAX_DELAY: an attacker gets a handful of guesses an hour,
while the owner is never locked out for good. A try made while blocked is refused without
looking at the password and counts for nothing. The client address has its own, looser
counter, against one machine trying many accounts. Failures are forgotten FORGET_AFTER after
the last one; a successful login forgets the account's, and so does a password reset by
e-mail link: the owner's way through while someone else keeps the account blocked.

The counters live where every web process sees them: Redis when the rate limits use it,
the database otherwise. Each counter's key is a keyed hash (HMAC under the app's secret), so
neither an e-mail address nor an IP address is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from accounts.credentials import AccountError, InvalidCredentials, authenticate, normalize_email
from accounts.models import Account, LoginFailures
from coffre.clock import Clock

FORGET_AFTER = timedelta(hours=1)
REDIS_SCHEMES = ("redis://", "rediss://")


@dataclass(frozen=True)
class Policy:
    """How many failures are free, and how the wait grows after them."""

    free_failures: int
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=15)

    def delay(self, failures: int) -> timedelta:
        """The wait after this many failures in a row: none, then doubling up to the cap."""
        if failures < self.free_failures:
            return timedelta(0)
        doublings = min(failures - self.free_failures, 16)  # past the cap anyway
        return min(self.first_delay * 2**doublings, self.max_delay)


ACCOUNT_POLICY = Policy(free_failures=5)
# Looser: a town hall's public terminal or a school network shares one address.
ADDRESS_POLICY = Policy(free_failures=20)


class LoginBlocked(AccountError):
    """Too many failed logins: no try is accepted before `until` (UTC)."""

    def __init__(self, until: datetime) -> None:
        super().__init__("too many failed logins")
        self.until = until


@dataclass(frozen=True)
class Failures:
    """A counter: failures in a row and when the last one happened."""

    count: int
    last_at: datetime


class FailureStore(Protocol):
    """Where the counters live; every web process must see the same ones."""

    def read(self, key: str) -> Failures | None: ...

    def add(self, key: str, now: datetime) -> Failures:
        """Count one failure, starting afresh when the last is older than FORGET_AFTER."""
        ...

    def clear(self, key: str) -> None: ...


@dataclass
class LoginThrottle:
    """The login's guard: `authenticate` behind the counters of the account and the address."""

    store: FailureStore
    clock: Clock
    secret: str = field(repr=False)

    def authenticate(self, session: Session, email: str, password: str, address: str) -> Account:
        """Check a login unless blocked; count a failure, forget the account's on success.

        Raises LoginBlocked while blocked, InvalidCredentials for a failed login.
        """
        until = self.blocked_until(email, address)
        if until is not None:
            raise LoginBlocked(until)
        try:
            account = authenticate(session, self.clock, email, password)
        except InvalidCredentials:
            self.record_failure(email, address)
            raise
        self.forget_account(email)
        return account

    def blocked_until(self, email: str, address: str) -> datetime | None:
        """When a login with this e-mail from this address may be tried again; None: now."""
        now = self.clock.now()
        ends = [
            failures.last_at + policy.delay(failures.count)
            for key, policy in self._counters(email, address)
            if (failures := self.store.read(key)) is not None
        ]
        latest = max(ends, default=None)
        return latest if latest is not None and latest > now else None

    def record_failure(self, email: str, address: str) -> None:
        """Count a failed login against the account and the address."""
        now = self.clock.now()
        for key, _policy in self._counters(email, address):
            self.store.add(key, now)

    def forget_account(self, email: str) -> None:
        """Forget the account's failures (a success, or a password reset by e-mail link).

        The address's counter stays: resetting one's own password must not open the door
        to guessing other accounts from the same machine.
        """
        self.store.clear(self._key("account", normalize_email(email)))

    def _counters(self, email: str, address: str) -> list[tuple[str, Policy]]:
        return [
            (self._key("account", normalize_email(email)), ACCOUNT_POLICY),
            (self._key("address", address), ADDRESS_POLICY),
        ]

    def _key(self, kind: str, value: str) -> str:
        digest = hmac.new(self.secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
        return f"{kind[0]}:{digest.hexdigest()}"


# --- the stores ---------------------------------------------------------------------------


@dataclass
class DatabaseFailureStore:
    """Counters in the `login_throttle` table; each change commits the given session."""

    session: Session

    def read(self, key: str) -> Failures | None:
        row = self.session.execute(
            select(LoginFailures.failures, LoginFailures.last_failure_at).where(
                LoginFailures.key == key
            )
        ).first()
        return Failures(row.failures, row.last_failure_at) if row else None

    def add(self, key: str, now: datetime) -> Failures:
        # One statement, so two processes counting the same key at once both count.
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stale = LoginFailures.last_failure_at < now - FORGET_AFTER
        statement = (
            insert(LoginFailures)
            .values(key=key, failures=1, last_failure_at=now)
            .on_conflict_do_update(
                index_elements=[LoginFailures.key],
                set_={
                    "failures": case((stale, 1), else_=LoginFailures.failures + 1),
                    "last_failure_at": now,
                },
            )
            .returning(LoginFailures.failures)
        )
        count = self.session.execute(statement).scalar_one()
        # Counters of addresses and e-mails tried once and never again go away here.
        self.session.execute(
            delete(LoginFailures).where(LoginFailures.last_failure_at < now - FORGET_AFTER)
        )
        self.session.commit()
        return Failures(count, now)

    def clear(self, key: str) -> None:
        self.session.execute(delete(LoginFailures).where(LoginFailures.key == key))
        self.session.commit()


# Counts atomically in Redis: starts afresh after FORGET_AFTER of quiet (measured on the
# caller's clock, so tests move time), and lets Redis drop the key after as long.
_ADD_SCRIPT = """
local last = redis.call('HGET', KEYS[1], 'last')
local count = 1
if last and tonumber(ARGV[1]) - tonumber(last) <= tonumber(ARGV[2]) then
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
else
  redis.call('HSET', KEYS[1], 'count', 1)
end
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return count
"""


class RedisFailureStore:
    """Counters in Redis hashes under a key prefix (the one the rate limits use)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._add = client.register_script(_ADD_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisFailureStore:
        """A store on the Redis server of this URL (redis:// or rediss://)."""
        return cls(redis.Redis.from_url(url), prefix)

    def read(self, key: str) -> Failures | None:
        count, last = self.client.hmget(self.prefix + key, ["count", "last"])
        if count is None or last is None:
            return None
        return Failures(int(count), datetime.fromtimestamp(float(last), UTC))

    def add(self, key: str, now: datetime) -> Failures:
        forget_seconds = int(FORGET_AFTER.total_seconds())
        count = self._add(keys=[self.prefix + key], args=[repr(now.timestamp()), forget_seconds])
        return Failures(int(count), now)

    def clear(self, key: str) -> None:
        self.client.delete(self.prefix + key)


def uses_redis(storage_uri: str) -> bool:
    """Whether a rate-limit storage URI names a Redis server the counters can share."""
    return storage_uri.startswith(REDIS_SCHEMES)

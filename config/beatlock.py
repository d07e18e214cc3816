"""One Celery beat at a time, however many are started (two hosts, a rolling deploy).

Two beats would enqueue every periodic task twice. The tasks are idempotent, so nothing would be
sent twice, but the work would double; and a beat that runs nowhere stops the sweeper, the
digests and the escalations. So every beat may be started (one per host, for failover), and
each waits at start-up until it holds a lock in Redis; the holder renews it three times per TTL.
If the holder dies, its lock expires and a standby takes over within `BEAT_LOCK_TTL_SECONDS`.
"""

import logging
import os
import socket
import threading
import time

log = logging.getLogger(__name__)

KEY = "tf:beat-lock"
TTL = 30  # seconds a dead holder keeps the lock (settings.BEAT_LOCK_TTL_SECONDS)

# Renew only a lock we still hold (compare and extend in one step).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class BeatLock:
    def __init__(self, client, *, key: str = KEY, ttl: int = TTL):
        self.client = client
        self.key = key
        self.ttl = ttl
        self.token = f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns()}"

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=self.ttl))

    def renew(self) -> bool:
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)

    def wait(self, *, poll: float = 2.0, stop: threading.Event | None = None) -> bool:
        """Block until the lock is ours (Redis being down counts as "not yet")."""
        announced = False
        while not (stop and stop.is_set()):
            try:
                if self.acquire():
                    return True
                if not announced:
                    log.info("another beat holds %s: standing by", self.key)
                    announced = True
            except Exception as exc:  # Redis down: keep waiting, a beat without it is useless
                log.warning("beat lock: Redis unavailable (%s), retrying", type(exc).__name__)
            time.sleep(poll)
        return False

    def keep(self, on_lost) -> threading.Thread:
        """Renew in the background; call `on_lost` if the lock went to someone else."""

        def loop():
            while True:
                time.sleep(max(self.ttl / 3, 0.5))
                try:
                    if self.renew() or self.acquire():
                        continue
                except Exception as exc:
                    # Redis down: our lock is gone with it or will be renewed when it is back;
                    # the beat cannot enqueue anything meanwhile anyway.
                    log.warning("beat lock: could not renew (%s)", type(exc).__name__)
                    continue
                log.error("beat lock %s taken by another beat: stopping this one", self.key)
                on_lost()
                return

        thread = threading.Thread(target=loop, name="beat-lock", daemon=True)
        thread.start()
        return thread


def hold_for_beat(**kwargs) -> None:
    """celery.signals.beat_init receiver: stand by until this beat holds the lock."""
    import signal

    from django.conf import settings

    from config.redis import get_redis

    # The Celery key prefix keeps two deployments (or a test run) on one Redis apart.
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    lock = BeatLock(get_redis(), key=f"{prefix}{KEY}", ttl=settings.BEAT_LOCK_TTL_SECONDS)
    lock.wait(poll=min(2.0, settings.BEAT_LOCK_TTL_SECONDS / 3))
    log.info("this beat holds %s", lock.key)
    lock.keep(on_lost=lambda: os.kill(os.getpid(), signal.SIGTERM))

"""The outbox sweeper of the soak: what beat's "sweep-outbox" task does (emails.sweep()), every
SOAK_SWEEP_EVERY seconds instead of every minute, and surviving database and broker outages."""

import logging
import os
import sys
import time

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from django.db import close_old_connections, connections  # noqa: E402

from notifications import emails  # noqa: E402

log = logging.getLogger("soak.sweeper")


def main() -> None:
    every = float(os.environ.get("SOAK_SWEEP_EVERY", "10"))
    while True:
        try:
            handed = emails.sweep()
            if handed:
                print(f"sweeper: handed {len(handed)} emails to the broker", flush=True)
        except Exception as exc:  # PostgreSQL restarting: try again at the next sweep
            print(f"sweeper: sweep failed: {type(exc).__name__}", flush=True)
            connections.close_all()
        close_old_connections()
        time.sleep(every)


if __name__ == "__main__":
    main()

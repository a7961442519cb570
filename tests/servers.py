"""Addresses of the real servers the tests use.

The machine's own PostgreSQL and Redis by default; `GPS_TEST_REDIS` (host:port) points the tests at another Redis,
so that two checkouts can run their suites side by side without flushing each other's databases.
"""

from __future__ import annotations

import os

REDIS_SERVER = os.environ.get("GPS_TEST_REDIS", "127.0.0.1:6379")


def redis_url(db: int) -> str:
    """URL of Redis database `db` on the test server."""
    return f"redis://{REDIS_SERVER}/{db}"

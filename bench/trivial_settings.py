"""The portal's settings with the benchmark's URLs (bench/urls.py: /bench/trivial added)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

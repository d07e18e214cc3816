"""The portal's settings for the soak and load runs, with one change: static files are collected
into a temporary directory of the run (TF_BENCH_STATIC_ROOT), not into the checkout."""

import os

from config.settings import *  # noqa: F403

STATIC_ROOT = os.environ["TF_BENCH_STATIC_ROOT"]

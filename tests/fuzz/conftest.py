"""Property-based fuzzing. `make test` tries a few cases per endpoint; `make fuzz` sets
FUZZ_EXAMPLES=10000. The number of cases tried is printed at the end of the run."""

import os
from collections import Counter

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
TRIED: Counter = Counter()

settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
FUZZ = settings.get_profile("fuzz")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if TRIED:
        terminalreporter.write_sep("-", "fuzz cases tried")
        for name, count in sorted(TRIED.items()):
            terminalreporter.write_line(f"{name}: {count:,}")
        terminalreporter.write_line(f"total: {sum(TRIED.values()):,}")

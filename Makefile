# The two commands a newcomer types: `make run` and `make test` (see README.md).
# Both create .venv with uv from uv.lock; uv itself is fetched from PyPI into .local/uv when it
# is not on PATH, so nothing but Python 3.11+ needs installing by hand.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .local/uv/bin/uv
endif
VENV_PY := .venv/bin/python

.PHONY: run test install audit services stop bench bench-small soak load fuzz messages lint fmt clean relevance cluster  test-pgbouncer readability

run: install
	$(VENV_PY) scripts/dev.py run

test: install
	$(VENV_PY) scripts/dev.py test $(ARGS)

install: .venv/.installed

.venv/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

.local/uv/bin/uv:
	$(PYTHON) -m venv .local/uv
	.local/uv/bin/pip install --quiet --disable-pip-version-check 'uv>=0.9,<1'

# Known vulnerabilities in uv.lock (CI runs it too).
audit: install
	UV=$(UV) bash scripts/audit.sh

services: install
	$(VENV_PY) scripts/dev.py services

stop: install
	$(VENV_PY) scripts/dev.py stop

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

fmt: install
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

# Rebuild the translation catalogues after changing user-facing strings.
# DEBUG=True: the catalogue tools need no production secrets (settings refuse a weak key without it).
messages: install
	cd . && DEBUG=True DATABASE_URL=$${DATABASE_URL:-postgresql://unused/unused} REDIS_URL=$${REDIS_URL:-redis://unused:6379/0} $(VENV_PY) manage.py makemessages -l fr -l it --no-obsolete --ignore '.venv/*' --ignore '.local/*' --ignore 'tests/*' --ignore 'bench/*'
	DEBUG=True DATABASE_URL=$${DATABASE_URL:-postgresql://unused/unused} REDIS_URL=$${REDIS_URL:-redis://unused:6379/0} $(VENV_PY) manage.py compilemessages --ignore '.venv/*'

clean: stop
	rm -rf .venv .local staticfiles

# Property-based fuzzing at full strength: 10,000 cases per public endpoint (a few in `make test`).
fuzz: install
	FUZZ_EXAMPLES=10000 $(VENV_PY) scripts/dev.py test tests/fuzz -p no:cacheprovider $(ARGS)

# Benchmarks (bench/README.md): figures printed as a table and written to bench/results/*.json.
bench: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) bench/run.py --n 600000 $(ARGS)

bench-small: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) bench/run.py --n 60000 $(ARGS)

# Fault injection with real servers of its own: Redis stopped, SMTP refusing, workers killed,
# PostgreSQL restarted; prints what was submitted, delivered and lost.
soak: install
	$(VENV_PY) bench/soak.py $(ARGS)

# Rising concurrency against gunicorn with a worker running, until p95 degrades.
load: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) bench/load.py $(ARGS)

# Search relevance on the judged set (trials/relevance/): nDCG@10, MAP, recall@20, precision@10
# per language and query class, the worst queries; JSON in bench/results/relevance-*.json.
relevance: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) bench/relevance.py $(ARGS)

# The whole suite through a real PgBouncer in transaction pooling (DATABASE_POOLER=pgbouncer).
test-pgbouncer: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) scripts/test_pgbouncer.py $(ARGS)

# A primary and a streaming replica, PgBouncer, Redis, two web servers, split workers and two
# beats on this machine (bench/cluster.py); Ctrl-C stops them.
cluster: install
	$(VENV_PY) bench/cluster.py $(ARGS)

# Reading grades of the demo trials: generated read (en/fr/it), staff texts, registry text.
readability: install
	$(VENV_PY) scripts/dev.py with $(VENV_PY) bench/readability.py $(ARGS)

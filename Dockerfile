# TrialFinder: one image for web, worker and beat. Dependencies come from uv.lock (the same lock
# file `make run` and `make test` install from); no dev or local-server groups in production.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir 'uv>=0.9,<1' \
 && useradd --create-home --uid 10001 trialfinder

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# collectstatic needs settings that import cleanly; these values are for the build step only
# (a throw-away random key: production settings refuse any key written down).
# (Translation catalogues are compiled in the repository: locale/*/LC_MESSAGES/*.mo.)
RUN DATABASE_URL=postgresql://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" DEBUG=False \
    python manage.py collectstatic --noinput --verbosity 0

# The search index's directory (SEARCH_INDEX_DIR in docker-compose.yml), writable by the app: a
# named volume mounted there starts with this owner.
RUN mkdir -p /data/search-index && chown trialfinder /data/search-index

USER trialfinder
EXPOSE 8000
# Access and error logs through the portal's redacting formatter (config/gunicorn.py): no query
# string, token or address in them.
CMD ["gunicorn", "config.wsgi:application", "-c", "python:config.gunicorn", "--bind", "0.0.0.0:8000", "--workers", "5"]

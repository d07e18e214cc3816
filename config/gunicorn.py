"""gunicorn's settings: `gunicorn -c python:config.gunicorn config.wsgi:application`.

Its error and access logs go through the portal's one redacting formatter (config/logs.py):
no query string, capability token or email address reaches them. Setting logconfig_dict also
turns the access log on (to stderr, with every other log line).
"""

import os

from config.logs import logging_config

logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO"))

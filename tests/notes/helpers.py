"""Helpers for the private-notes tests: the browser's key derivation, and a database grep."""

import hashlib
import hmac

from django.db import connection

from notes.services import PBKDF2_ITERATIONS


def derive_verifier(passcode: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """What static/js/notes.js sends for a passcode: HKDF-SHA-256 of the PBKDF2 output."""
    master = hashlib.pbkdf2_hmac("sha256", passcode.encode(), salt, iterations, 32)
    prk = hmac.new(b"\0" * 32, master, hashlib.sha256).digest()  # HKDF-Extract, no salt
    return hmac.new(prk, b"trialfinder notes v1 verifier\x01", hashlib.sha256).digest()


def database_rows_containing(text: str) -> list[str]:
    """Every table.column of the database (text, JSON, arrays and bytea) holding `text`."""
    hits = []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public'
               ORDER BY table_name, ordinal_position"""
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            if data_type == "bytea":
                condition = f"position(convert_to(%s, 'UTF8') in \"{column}\") > 0"
            else:
                condition = f'strpos("{column}"::text, %s) > 0'
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE {condition}', [text])  # noqa: S608
            if cursor.fetchone()[0]:
                hits.append(f"{table}.{column}")
    return hits

"""Shared notes moved from `patients` to `notes` (notes/migrations/0001, patients/migrations/
0007): a database that holds shared notes keeps every one of them across the move, and back."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from notes import services
from notes.models import SharedNotes
from trials.models import Trial

pytestmark = pytest.mark.django_db

BEFORE = [("patients", "0006_inquiry_event_submission_key"), ("notes", None)]
AFTER = [
    ("patients", "0007_shared_notes_moved_to_notes"),
    ("notes", "0001_shared_notes_from_patients"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets[0]).apps


def test_shared_notes_survive_the_move_to_the_notes_app():
    # Both moves only change Django's state (and a content type row), so the whole round trip
    # runs inside the test's transaction and is rolled back with it.
    trial = Trial.objects.order_by("pk").first()
    old_apps = migrate(BEFORE)
    OldSharedNotes = old_apps.get_model("patients", "SharedNotes")
    token = "t" * 43
    expires_at = timezone.now() + datetime.timedelta(days=7)
    OldSharedNotes.objects.create(
        token_hash=services.hash_token(token),
        trial_id=trial.pk,
        ciphertext=b"\x00encrypted notes\xff",
        iv=b"i" * 12,
        salt=b"s" * 16,
        iterations=600_000,
        verifier_hash="v" * 64,
        expires_at=expires_at,
        failed_attempts_total=3,
    )
    ContentType.objects.clear_cache()
    ContentType.objects.get_or_create(app_label="patients", model="sharednotes")

    migrate(AFTER)

    share = services.find_share(token)
    assert share is not None
    assert share.trial == trial
    assert bytes(share.ciphertext) == b"\x00encrypted notes\xff"
    assert (share.iterations, share.failed_attempts_total) == (600_000, 3)
    assert share.expires_at == expires_at
    assert SharedNotes.objects.count() == 1
    # The content type (and any permission on it) followed the model.
    ContentType.objects.clear_cache()
    assert ContentType.objects.filter(app_label="notes", model="sharednotes").exists()
    assert not ContentType.objects.filter(app_label="patients", model="sharednotes").exists()

    # And back: the rows are still in the table `patients` knew.
    old_apps = migrate(BEFORE)
    assert old_apps.get_model("patients", "SharedNotes").objects.get().failed_attempts_total == 3
    migrate(AFTER)
    ContentType.objects.clear_cache()

"""The whole alert path once, with a real Celery worker and a real SMTP server."""

import io
import json
import re
import time

import pytest
from django.core.management import call_command

from notifications.models import AlertMatch, Subscription
from notifications.tasks import match_alerts, send_due_digests
from tests.conftest import SEED_DATA, ensure_gazetteer, import_records
from tests.fakes import SmtpSink

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def confirm_from(message, client):
    body = message.get_body(("plain",)).get_content()
    url = re.search(r"https?://\S+/alerts/confirm/\S+/", body).group(0)
    response = client.post(url.split("testserver", 1)[-1])
    assert response.status_code == 200


def test_subscribe_import_and_receive_each_email_once(client, worker_process, tmp_path):
    ensure_gazetteer()
    import_records(SEED_DATA)
    with SmtpSink() as sink:
        worker_process(env=sink.env)

        # 1. Subscribe, in French, to a search and to a trial: only confirmations are sent.
        client.post(
            "/alerts/subscribe/",
            {"search": "q=head and neck cancer&near=Strasbourg", "email": "alice@example.org",
             "frequency": "daily", "language": "fr"},
        )  # fmt: skip
        client.post(
            "/trials/NCT07635641/watch/",
            {"email": "alice@example.org", "frequency": "daily", "language": "fr"},
        )
        confirmations = sink.wait_for(2)
        assert all(m["To"] == "alice@example.org" for m in confirmations)
        for message in confirmations:
            confirm_from(message, client)
        assert Subscription.objects.filter(status="active").count() == 2

        # 2. Import a new matching trial and a status change of the watched one.
        new = json.loads((SEED_DATA / "NCT05738187.json").read_text())
        new["protocolSection"]["identificationModule"]["nctId"] = "NCT95738100"
        new["protocolSection"]["identificationModule"]["briefTitle"] = (
            "Cryotherapy again, Strasbourg"
        )
        watched = json.loads((SEED_DATA / "NCT07635641.json").read_text())
        watched["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
        folder = tmp_path / "import"
        folder.mkdir()
        (folder / "new.json").write_text(json.dumps(new))
        (folder / "watched.json").write_text(json.dumps(watched))
        out = io.StringIO()
        call_command("import_ctgov", str(folder), stdout=out, stderr=io.StringIO())
        assert out.getvalue().strip().endswith("created 1, updated 1, unchanged 0, failed 0")
        wait_until(lambda: AlertMatch.objects.count() == 2)  # the worker matched them

        # 3. The daily beat: one digest with both, in French, with one-click unsubscribe.
        send_due_digests.delay("daily")
        messages = sink.wait_for(3)
        digest = messages[2]
        text = digest.get_body(("plain",)).get_content()
        assert "Cryotherapy again, Strasbourg" in text
        assert "NCT07635641" in text
        assert "Bonjour" in text
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # 4. Matching and the beat again: nothing is sent twice.
        match_alerts.delay()
        send_due_digests.delay("daily")
        time.sleep(3)
        assert len(sink.messages) == 3

        # 5. Unsubscribe with one click: the subscriptions of that email are gone.
        # A long header is folded over lines by the mail library: unfold it.
        url = re.fullmatch(r"<(.+)>", "".join(str(digest["List-Unsubscribe"]).split())).group(1)
        response = client.post(url.split("testserver", 1)[-1], {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert not Subscription.objects.exists()

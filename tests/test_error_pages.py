"""The 403 pages a patient may meet: a refused form (CSRF_FAILURE_VIEW) and a refused page, both
branded and in the patient's language, never Django's developer text."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import translation
from django.views.defaults import permission_denied

from notifications import alerts
from notifications.models import Subscriber

pytestmark = pytest.mark.django_db

REFUSED_FORM = {
    "en": ("Your form could not be sent", "Nothing was saved or sent.", "Open the page again"),
    "fr": (
        "Votre formulaire n\u2019a pas pu être envoyé",
        "Rien n\u2019a été enregistré ni envoyé.",
        "Rouvrir la page",
    ),
    "it": ("Non è stato possibile inviare il modulo", "Non è stato salvato né inviato nulla.",
           "Riapri la pagina"),
}  # fmt: skip
REFUSED_PAGE = {
    "en": "You cannot open this page",
    "fr": "Vous ne pouvez pas ouvrir cette page",
    "it": "Non puoi aprire questa pagina",
}
DJANGO_TEXT = ("CSRF", "csrf", "Forbidden", "Origin", "Referer", "DEBUG")


@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_a_refused_form_says_what_happened_and_what_to_do(language):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=language)
    response = client.post("/alerts/subscribe/", {"email": "alice@example.org"})
    assert response.status_code == 403
    html = response.content.decode()
    heading, nothing_lost, retry = REFUSED_FORM[language]
    assert f'<html lang="{language}">' in html
    assert heading in html and nothing_lost in html
    assert f'href="/alerts/subscribe/">{retry}</a>' in html
    assert not [word for word in DJANGO_TEXT if word in html.replace("csrfmiddlewaretoken", "")]


def test_a_form_posted_with_origin_null_is_refused_and_the_page_keeps_its_token_private():
    """What Chromium sent from pages with "Referrer-Policy: no-referrer" (issue 13): a valid
    token does not save a post whose Origin is "null"; the refusal page links back to the
    secret link, so it is as private as the link's own page."""
    subscriber = Subscriber.objects.create(email="alice@example.org")
    url = f"/alerts/manage/{alerts.manage_token(subscriber)}/"
    client = Client(enforce_csrf_checks=True)
    page = client.get(url)
    token = page.cookies["csrftoken"].value
    data = {"csrfmiddlewaretoken": token, "action": "delete-all"}
    refused = client.post(url, data, HTTP_ORIGIN="null")
    assert refused.status_code == 403
    assert f'href="{url}"' in refused.content.decode()
    assert refused["Referrer-Policy"] == "same-origin"
    assert "no-store" in refused["Cache-Control"]
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    accepted = client.post(url, data, HTTP_ORIGIN="http://testserver")
    assert accepted.status_code == 200
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()


@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_a_refused_page_is_branded_and_translated(rf, language):
    with translation.override(language):
        response = permission_denied(rf.get("/somewhere/"), PermissionDenied("secret reason"))
    html = response.content.decode()
    assert response.status_code == 403
    assert f'<html lang="{language}">' in html
    assert REFUSED_PAGE[language] in html
    assert "TrialFinder" in html and "secret reason" not in html


# --- the database is briefly away (config/outage.py) --------------------------------------------

NOT_SAVED = {
    "en": "We could not save what you sent",
    "fr": "Nous n\u2019avons pas pu enregistrer votre envoi",
    "it": "Non siamo riusciti a salvare quello che hai inviato",
}
UNAVAILABLE = {
    "en": "This page is briefly unavailable",
    "fr": "Cette page est momentanément indisponible",
    "it": "Questa pagina è momentaneamente non disponibile",
}


@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_the_outage_page_keeps_what_was_typed_but_never_a_password(rf, language):
    from config.outage import unavailable

    request = rf.post(
        "/trials/NCT05738187/contact/",
        {"message": "J'ai <b>mal</b>", "email": "a@example.org", "password": "hunter2",
         "csrfmiddlewaretoken": "old", "pre-q1": ["yes"]},
    )  # fmt: skip
    with translation.override(language):
        response = unavailable(request, shown={"message": "Message"})
    html = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert "no-store" in response["Cache-Control"]
    assert NOT_SAVED[language] in html
    assert 'action="/trials/NCT05738187/contact/"' in html
    assert "J&#x27;ai &lt;b&gt;mal&lt;/b&gt;</textarea>" in html  # shown, escaped
    assert '<input type="hidden" name="email" value="a@example.org">' in html
    assert '<input type="hidden" name="pre-q1" value="yes">' in html
    assert "hunter2" not in html and 'value="old"' not in html


@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_a_page_that_cannot_be_read_is_a_branded_503(rf, language):
    from config.outage import unavailable

    with translation.override(language):
        response = unavailable(rf.get("/trials/NCT05738187/"), kept=False)
    html = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert f'<html lang="{language}">' in html and UNAVAILABLE[language] in html
    assert 'href="/trials/NCT05738187/"' in html

"""Every link the portal emails, followed in real Chromium under production settings.

For each kind of email: make it happen through the real flow (forms in Chromium, the beat's
tasks on a real Celery worker), take the message a real SMTP server received, open its link in
a fresh browser context (no cookies, no referrer: a mail client opening the default browser),
complete the page's form, and check the database. The portal runs as production does
(tests/browser/production.py): gunicorn, `config.settings`, DEBUG off, real ALLOWED_HOSTS and
SITE_URL, Secure cookies, manifest static files, two-step staff login, a custom ADMIN_PATH.

JOURNEYS lists every template of templates/emails/ with the tests that follow its links; a new
template without an entry fails test_every_email_template_has_a_journey, and a test that stops
following a template it claims fails when it ends.

Issue 13: pages behind these links sent "Referrer-Policy: no-referrer", so Chromium posted their
forms with "Origin: null" and the CSRF check answered 403, while the Django test client, which
sends no Origin, kept the suite green.
"""

import datetime
import html.parser
import importlib
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from notifications.models import (
    AlertMatch,
    EmailStatus,
    OutgoingEmail,
    Subscription,
    SubscriptionStatus,
)
from patients.models import EventKind, Inquiry, InquiryStatus, SiteConfirmation
from patients.roles import make_coordinator
from tests.browser.conftest import DESKTOP
from tests.browser.production import ADMIN_PATH, ProductionServer
from tests.conftest import (
    ROOT,
    SEED_DATA,
    WorkerProcess,
    import_records,
    purge_test_queue,
)
from tests.fakes import SmtpSink
from trials.models import Contact, CoordinatorStatus, Site

pytestmark = [pytest.mark.browser, pytest.mark.worker]

TEMPLATES = ROOT / "templates" / "emails"
SITE_A_TRIAL = "NCT05738187"  # University Hospital, Strasbourg; "head and neck cancer"
WATCHED_TRIAL = "NCT07635641"  # IRCCS Humanitas, Rozzano
PASSWORD = "a-long-coordinator-password"
LOCALES = {"en": "en-GB", "fr": "fr-FR", "it": "it-IT"}


# --- the portal as production runs it, a real worker, a real SMTP server ------------------------


@pytest.fixture(scope="module")
def sink():
    with SmtpSink() as smtp:
        yield smtp


@pytest.fixture(scope="module")
def server(django_db_setup, sink, tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    portal = ProductionServer(folder / "static", folder / "gunicorn.log", env=sink.env)
    portal.start()
    yield portal
    portal.stop()


@pytest.fixture(scope="module")
def worker(server):
    """Sends what the server queued, and runs the beat's tasks with the server's settings (the
    emails it writes carry the same SITE_URL, ADMIN_PATH and signing key)."""
    purge_test_queue()
    process = WorkerProcess(env=server.env).start()
    yield process
    process.stop()


@pytest.fixture
def portal(server, worker, sink, chromium, seed_trials, request):
    _forget_cached_state()
    with sink.lock:
        sink.messages.clear()
    failed_before = request.session.testsfailed
    visit = Portal(server, sink, chromium)
    yield visit
    for context in visit.contexts:
        context.close()
    if request.session.testsfailed > failed_before:
        return  # the test's own failure says what went wrong
    assert visit.violations == [], visit.violations
    claimed = {template for template, tests in JOURNEYS.items() if request.node.name in tests}
    assert claimed <= visit.followed, f"JOURNEYS says this test follows {claimed - visit.followed}"


def _forget_cached_state() -> None:
    """Rate-limit counters and cached pages of this run: the database was just refilled."""
    from config.redis import get_redis

    redis = get_redis()
    for key in redis.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*"):
        redis.delete(key)


# --- reading emails as a mail client does ---------------------------------------------------------


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("http"):
            self.hrefs.append(href)


@dataclass
class Email:
    template: str
    language: str
    message: object  # email.message.EmailMessage, as the SMTP server received it
    hrefs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def link(self, path_pattern: str) -> str:
        """The one link of the HTML part whose path matches; the text part has it too."""
        paths = {h: urllib.parse.urlsplit(h).path for h in self.hrefs}
        for href, path in paths.items():
            # Patient pages carry the reader's language (/fr/…, /it/…; English unprefixed).
            prefix = re.match(r"^/(en|fr|it)(?=/)", path)
            if prefix:
                assert prefix.group(1) == self.language, (
                    f"{self.template}: {href} not in {self.language}"
                )
                paths[href] = path[prefix.end() :]
        found = sorted(h for h, path in paths.items() if re.search(path_pattern, path))
        assert len(found) == 1, f"{self.template}: links matching {path_pattern}: {found}"
        assert found[0] in self.text, f"{self.template}: {found[0]} is not in the text part"
        return found[0]


class Portal:
    def __init__(self, server: ProductionServer, sink: SmtpSink, chromium):
        self.server = server
        self.url = server.url
        self.sink = sink
        self.chromium = chromium
        self.contexts = []
        self.violations: list[str] = []
        self.followed: set[str] = set()

    # browsers

    def browser(self, language: str = "en"):
        """A page in a fresh context: no cookies, nothing shared with any other page."""
        context = self.chromium.new_context(
            base_url=self.url, locale=LOCALES[language], viewport=DESKTOP
        )
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda m: (
                self.violations.append(m.text[:120])
                if "Content Security Policy" in m.text
                else None
            ),
        )
        page.on("pageerror", lambda error: self.violations.append(f"uncaught: {error}"))
        return page

    def submit(self, page, button):
        """Press a form's button; the post must carry this site's Origin and succeed."""
        with (
            page.expect_request(lambda r: r.method == "POST") as posted,
            page.expect_navigation() as navigation,
        ):
            button.click()
        origin = posted.value.all_headers().get("origin")
        response = navigation.value
        assert response.status < 400 and origin == self.url, (
            f"POST {posted.value.url} with Origin {origin!r} answered {response.status}: "
            f"{page.locator('main').inner_text()[:300]!r}\n--- server log ---\n"
            f"{self.server.log_tail(1500)}"
        )
        cookies = {c["name"]: c for c in page.context.cookies()}
        for name in COOKIES.intersection(cookies):
            cookie = cookies[name]
            assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (
                True, True, "Lax"), cookie  # fmt: skip
        return response

    # emails

    def email(self, template: str, to: str, *, timeout: float = 60.0) -> Email:
        """The message of this template to this address, as the SMTP server received it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = (
                OutgoingEmail.objects.filter(
                    template=template, to_email=to, status=EmailStatus.SENT
                )
                .order_by("-id")
                .first()
            )
            if row is not None:
                for message in self.sink.parsed():
                    if message["Message-ID"] == row.message_id:
                        links = _Links()
                        links.feed(message.get_body(("html",)).get_content())
                        return Email(template, row.language, message, links.hrefs)
            time.sleep(0.2)
        sent = list(OutgoingEmail.objects.values_list("template", "to_email", "status"))
        raise AssertionError(f"no {template} email to {to} was sent; outbox: {sent}")

    def follow(self, email: Email, path_pattern: str):
        """Open a link of the email in a fresh browser, as clicked in a mail client."""
        url = email.link(path_pattern)
        assert url.startswith(self.url + "/"), f"{email.template} links to {url}"
        page = self.browser(email.language)
        response = page.goto(url)  # no Referer, no cookie: straight from the mail client
        assert response.status == 200, f"{url} answered {response.status}"
        self.followed.add(email.template)
        return page

    def every_link_opens(self, email: Email) -> None:
        """Each of the email's links answers, even fetched as a mail scanner does (GET, no
        cookie), and opening a link never acts: that takes pressing a button."""
        for href in email.hrefs:
            headers = {"Accept-Language": email.language}
            request = urllib.request.Request(href, headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
                assert answer.status == 200, f"{email.template}: {href} answered {answer.status}"

    # staff

    def log_in(self, page, user) -> None:
        """The admin's login page (reached from an emailed link): password and TOTP code."""
        expect(page.locator("#login-form")).to_be_visible()
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("#id_otp_token").fill(totp_now(user))
        self.submit(page, page.locator("#login-form input[type=submit]"))


def staff(username: str, *, sites=(), superuser=False, email=""):
    """A staff member with a password the production hashers read and a confirmed
    authenticator (the server asks for both)."""
    user = get_user_model().objects.create(
        username=username,
        email=email or f"{username}@site.example.org",
        is_staff=True,
        is_superuser=superuser,
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt()),
    )
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    if sites:
        make_coordinator(user, *sites)
    return user


def totp_now(user) -> str:
    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def status_emails_on() -> None:
    """The staff-written status emails are rows a migration writes; a flushed test database
    lost them: write them again the same way."""
    migration = importlib.import_module("patients.migrations.0005_status_emails")
    migration.seed_texts(django_apps, None)


def import_changed(tmp_path: Path, nct_id: str, change) -> None:
    """Import a changed copy of a seed record, as the registry's next version."""
    record = json.loads((SEED_DATA / f"{nct_id}.json").read_text())
    change(record["protocolSection"])
    path = tmp_path / f"{nct_id}-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(record))
    import_records(path)  # the worker matches the alerts after commit


def contact_site(portal: Portal, nct_id: str, who: dict, *, age: str = "") -> Inquiry:
    """A patient sends the contact form of a trial in Chromium."""
    page = portal.browser(who["language"])
    page.goto(f"/trials/{nct_id}/contact/?near=Strasbourg")
    if age:
        page.locator("#id_pre-age").fill(age)
    page.locator("#id_first_name").fill(who["first_name"])
    page.locator("#id_last_name").fill("Durand")
    page.locator("#id_email").fill(who["email"])
    page.locator("#id_phone").fill("06 12 34 56 78")
    page.locator("#id_message").fill("Mon cancer est revenu après la radiothérapie.")
    page.locator("#id_consent").check()
    portal.submit(page, page.locator('button[name="step"][value="send"]'))
    return Inquiry.objects.get(email=who["email"])


def subscribe(portal: Portal, page, email: str, frequency: str = "daily") -> None:
    page.locator("#id_email").fill(email)
    page.locator(f"input[name=frequency][value={frequency}]").check()
    portal.submit(page, page.locator("main form button[type=submit]"))


def confirm_alert(portal: Portal, email: str) -> Subscription:
    confirmation = portal.email("alert-confirm", email)
    portal.every_link_opens(confirmation)  # a scanner's GET confirms nothing
    assert Subscription.objects.get(subscriber__email=email).status == SubscriptionStatus.PENDING
    page = portal.follow(confirmation, r"^/alerts/confirm/[^/]+/$")
    portal.submit(page, page.locator("main form button[type=submit]"))
    subscription = Subscription.objects.get(subscriber__email=email)
    assert subscription.status == SubscriptionStatus.ACTIVE
    return subscription


# The portal's own cookies: Secure, HttpOnly, SameSite=Lax, as over HTTPS in production.
COOKIES = {"csrftoken", "sessionid", "django_language"}
# The admin's "Change the status" (named in the coordinator's language).
STATUS_BUTTON = "form:has(#id_to_status) button[type=submit]"
AMELIE = {"first_name": "Amélie", "email": "amelie.durand@example.org", "language": "fr"}


# --- the journeys ---------------------------------------------------------------------------------


def test_a_saved_search_is_confirmed_then_managed_from_its_digest(portal, tmp_path):
    # 1. A patient asks for alerts from a search, in French: a confirmation email.
    page = portal.browser("fr")
    page.goto("/alerts/subscribe/?q=head+and+neck+cancer&near=Strasbourg")
    subscribe(portal, page, "amelie.durand@example.org")
    subscription = confirm_alert(portal, "amelie.durand@example.org")

    # 2. A new matching trial is registered; the daily digest tells her.
    def new_trial(section):
        section["identificationModule"]["nctId"] = "NCT95738100"
        section["identificationModule"]["briefTitle"] = "Cryotherapy again, Strasbourg"

    import_changed(tmp_path, SITE_A_TRIAL, new_trial)
    wait_until(lambda: AlertMatch.objects.filter(subscription=subscription).exists(), "a match")
    from notifications.tasks import send_due_digests

    send_due_digests.delay("daily")
    digest = portal.email("alert-digest", "amelie.durand@example.org")
    assert "Cryotherapy again, Strasbourg" in digest.text
    portal.every_link_opens(digest)
    assert Subscription.objects.filter(pk=subscription.pk).exists()  # GETs change nothing
    trial = portal.follow(digest, r"^/trials/NCT95738100/$")
    expect(trial.locator("h1")).to_contain_text("Cryotherapy again, Strasbourg")

    # 3. "Manage my alerts": how often (Save), Pause, Delete.
    manage = portal.follow(digest, r"^/alerts/manage/[^/]+/$")
    manage.locator("select[name=frequency]").select_option("weekly")
    portal.submit(manage, manage.locator("form:has(input[value=frequency]) button"))
    subscription.refresh_from_db()
    assert subscription.frequency == "weekly"
    portal.submit(manage, manage.locator("form:has(input[value=pause]) button"))
    subscription.refresh_from_db()
    assert (subscription.status, subscription.paused_reason) == ("paused", "user")
    portal.submit(manage, manage.locator("form:has(input[value=delete]) button"))
    assert not Subscription.objects.filter(pk=subscription.pk).exists()


def test_a_watched_trial_change_email_unsubscribes_in_one_click(portal, tmp_path):
    # 1. Two people watch a trial from its page; each confirms from their email.
    for address, language in (("marco@example.org", "it"), ("jane@example.org", "en")):
        page = portal.browser(language)
        page.goto(f"/trials/{WATCHED_TRIAL}/")
        # The page speaks the browser's language: its links carry that prefix (/it/…).
        page.locator(f"a[href$='/trials/{WATCHED_TRIAL}/watch/']").click()
        subscribe(portal, page, address)
        confirm_alert(portal, address)

    # 2. The registry says it stopped recruiting: one change email each.
    def stopped(section):
        section["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"

    import_changed(tmp_path, WATCHED_TRIAL, stopped)
    wait_until(lambda: AlertMatch.objects.count() == 2, "two matches")
    from notifications.tasks import send_due_digests

    send_due_digests.delay("daily")
    marco = portal.email("alert-digest", "marco@example.org")
    jane = portal.email("alert-digest", "jane@example.org")
    assert WATCHED_TRIAL in marco.text and WATCHED_TRIAL in jane.text

    # 3. Marco presses "Unsubscribe" on the page the email's link opens.
    page = portal.follow(marco, r"^/alerts/unsubscribe/[^/]+/$")
    portal.submit(page, page.locator("main form button[type=submit]"))
    assert not Subscription.objects.filter(subscriber__email="marco@example.org").exists()

    # 4. Jane's mail provider unsubscribes her with the RFC 8058 POST of List-Unsubscribe:
    #    no cookie, no CSRF token, no browser.
    assert jane.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = "".join(str(jane.message["List-Unsubscribe"]).split())
    url = re.fullmatch(r"<(.+)>", header).group(1)
    assert url == jane.link(r"^/alerts/unsubscribe/[^/]+/$")
    one_click = b"List-Unsubscribe=One-Click"
    request = urllib.request.Request(url, data=one_click, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
        assert answer.status == 200
    assert not Subscription.objects.filter(subscriber__email="jane@example.org").exists()


def site_a() -> Site:
    return Site.objects.get(trial__nct_id=SITE_A_TRIAL)


def team_mailbox(site: Site, address: str) -> None:
    """The site's contact in the registry record: inquiries to the site go there."""
    Contact.objects.create(trial=site.trial, site=site, role="CONTACT", email=address)


def test_the_inquiry_copy_leads_to_the_status_page_and_to_withdrawal(portal):
    dana = staff("dana", sites=[site_a()])
    erin = staff("erin", sites=[site_a()])
    team_mailbox(site_a(), "team@site.example.org")
    inquiry = contact_site(portal, SITE_A_TRIAL, AMELIE)

    # 1. The team's email opens the inquiry in the admin, after the two-step login.
    to_team = portal.email("inquiry-to-site", "team@site.example.org")
    portal.every_link_opens(to_team)
    page = portal.follow(to_team, rf"^/{ADMIN_PATH}patients/inquiry/\d+/change/$")
    portal.log_in(page, dana)
    assert page.url.endswith(f"/{ADMIN_PATH}patients/inquiry/{inquiry.pk}/change/")
    expect(page.locator("#id_to_status")).to_be_visible()

    # 2. The patient's copy: her status page, then withdrawal.
    copy = portal.email("inquiry-copy", AMELIE["email"])
    portal.every_link_opens(copy)
    status = portal.follow(copy, r"^/inquiries/status/[^/]+/$")
    expect(status.locator("#status-label")).to_have_text("Envoyée à l\u2019équipe de recherche")
    withdraw = portal.follow(copy, r"^/inquiries/withdraw/[^/]+/$")
    portal.submit(withdraw, withdraw.locator("main form button[type=submit]"))
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.WITHDRAWN and inquiry.is_erased

    # 3. The team had the inquiry, so it is told; another coordinator opens the link.
    notice = portal.email("inquiry-withdrawn", "team@site.example.org")
    page = portal.follow(notice, rf"^/{ADMIN_PATH}patients/inquiry/\d+/change/$")
    portal.log_in(page, erin)
    assert page.url.endswith(f"/{ADMIN_PATH}patients/inquiry/{inquiry.pk}/change/")
    expect(page.locator("#id_to_status")).to_have_count(0)  # withdrawn: nothing to move


def test_a_status_change_and_a_reply_reach_the_patient_who_prints_her_answers(portal):
    status_emails_on()
    dana = staff("dana", sites=[site_a()])
    team_mailbox(site_a(), dana.email)
    alice = {"first_name": "Alice", "email": "alice.martin@example.org", "language": "en"}
    inquiry = contact_site(portal, SITE_A_TRIAL, alice, age="61")

    # 1. The coordinator, from the team's email: "contacted", then a reply.
    page = portal.follow(portal.email("inquiry-to-site", dana.email), r"/inquiry/\d+/change/$")
    portal.log_in(page, dana)
    page.locator("#id_to_status").select_option("contacted")
    portal.submit(page, page.locator(STATUS_BUTTON))
    page.locator("#id_message").fill("Could you come on Monday at 10?")
    portal.submit(page, page.locator("form:has(#id_message) button[type=submit]"))
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.CONTACTED
    assert inquiry.events.filter(kind=EventKind.REPLY, actor=dana).count() == 1

    # 2. The patient's status email: her status page, then the summary with her answers.
    moved = portal.email("inquiry-status", alice["email"])
    portal.every_link_opens(moved)
    status = portal.follow(moved, r"^/inquiries/status/[^/]+/$")
    expect(status.locator("#status-label")).to_have_text("The research team has been in touch")
    status.get_by_role("link", name="Printable summary of the trial, with your answers").click()
    expect(status.locator(".print-answers")).to_contain_text("61")
    assert re.search(r"/inquiries/status/[^/]+/print/$", status.url)

    # 3. The reply carries the same links.
    reply = portal.email("inquiry-reply", alice["email"])
    assert "Could you come on Monday at 10?" in reply.text
    portal.every_link_opens(reply)
    status = portal.follow(reply, r"^/inquiries/status/[^/]+/$")
    expect(status.locator("#status-label")).to_have_text("The research team has been in touch")


def test_a_not_eligible_email_offers_other_trials_and_a_one_click_alert(portal):
    status_emails_on()
    dana = staff("dana", sites=[site_a()])
    inquiry = contact_site(portal, SITE_A_TRIAL, AMELIE)

    page = portal.browser("en")
    page.goto(f"/{ADMIN_PATH}patients/inquiry/{inquiry.pk}/change/")
    portal.log_in(page, dana)
    page.locator("#id_to_status").select_option("not_eligible")
    portal.submit(page, page.locator(STATUS_BUTTON))

    ruled_out = portal.email("inquiry-status", AMELIE["email"])
    others = {h for h in ruled_out.hrefs if re.search(r"/trials/NCT\d{8}/$", h)}
    assert others and not [h for h in others if SITE_A_TRIAL in h]  # other trials, near her
    portal.every_link_opens(ruled_out)  # opening the alert link subscribes nobody
    assert not Subscription.objects.exists()
    offer = portal.follow(ruled_out, r"^/alerts/one-click/[^/]+/$")
    portal.submit(offer, offer.locator("main form button[type=submit]"))
    alert = Subscription.objects.get(subscriber__email=AMELIE["email"])
    assert (alert.kind, alert.status) == ("search", SubscriptionStatus.ACTIVE)


def test_the_still_recruiting_email_records_the_answer_of_the_coordinator(portal):
    from patients.tasks import request_site_confirmations

    bob = staff("bob", sites=[site_a()])
    request_site_confirmations.delay()  # the beat's daily task
    asked = portal.email("site-confirm", bob.email)
    portal.every_link_opens(asked)  # a mail scanner's GET records nothing
    assert not SiteConfirmation.objects.exists()

    page = portal.follow(asked, r"^/sites/confirm/[^/]+/$")
    portal.submit(page, page.locator("button[name=status][value=paused]"))
    site = site_a()
    assert site.coordinator_status == CoordinatorStatus.PAUSED
    assert SiteConfirmation.objects.get().via == SiteConfirmation.Via.EMAIL

    # The same email's link to "My sites" in the admin, where one click reopens it.
    page = portal.follow(asked, rf"^/{ADMIN_PATH}patients/coordinatedsite/$")
    portal.log_in(page, bob)
    reopen = f"button[name=status][value=recruiting][formaction*='/{site.pk}/']"
    portal.submit(page, page.locator(reopen))
    assert site_a().coordinator_status == CoordinatorStatus.RECRUITING


def test_a_staff_set_up_link_pairs_the_authenticator_with_the_password_and_a_code(portal):
    tess = staff("tess", superuser=True, email="tess@trialfinder.example.org")
    dana = staff("dana", sites=[site_a()])
    TOTPDevice.objects.filter(user=dana).delete()  # a new member of staff: no authenticator yet

    # An administrator emails the link from the user list (the admin's own action).
    page = portal.browser("fr")
    page.goto(f"/{ADMIN_PATH}auth/user/")
    portal.log_in(page, tess)
    page.locator(f"input[name=_selected_action][value='{dana.pk}']").check()
    page.locator("select[name=action]").select_option("email_otp_setup_link")
    portal.submit(page, page.locator("button[name=index]"))
    setup = portal.email("staff-otp-setup", dana.email)
    portal.every_link_opens(setup)  # a mail scanner's GET pairs nothing
    assert not TOTPDevice.objects.filter(user=dana, confirmed=True).exists()

    page = portal.follow(setup, rf"^/{ADMIN_PATH}otp/setup/[^/]+/$")
    expect(page.locator(".tf-qr svg")).to_be_visible()
    device = TOTPDevice.objects.get(user=dana, confirmed=False)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_otp_token").fill(f"{totp.token():06d}")
    portal.submit(page, page.locator("#content-main form input[type=submit]"))
    assert TOTPDevice.objects.get(user=dana).confirmed
    expect(page.locator("#user-tools")).to_contain_text("dana")


def test_an_unanswered_inquiry_is_chased_and_escalated_through_emails_that_work(portal):
    from patients.tasks import escalate_overdue_inquiries

    dana = staff("dana", sites=[site_a()])
    erin = staff("erin", sites=[site_a()])
    tess = staff("tess", superuser=True, email="tess@trialfinder.example.org")
    giulia = {"first_name": "Giulia", "email": "giulia.rossi@example.org", "language": "it"}
    inquiry = contact_site(portal, SITE_A_TRIAL, giulia)

    # 1. Past the site's deadline: the other coordinators are reminded, the patient is told.
    Inquiry.objects.filter(pk=inquiry.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=10)
    )
    escalate_overdue_inquiries.delay()
    chasing = portal.email("inquiry-chasing", giulia["email"])
    portal.every_link_opens(chasing)
    status = portal.follow(chasing, r"^/inquiries/status/[^/]+/$")
    expect(status.locator(".status-timeline")).to_contain_text("abbiamo sollecitato")
    reminder = portal.email("inquiry-reminder", erin.email)
    portal.every_link_opens(portal.email("inquiry-reminder", dana.email))

    # 2. A working day later: the TrialFinder team, who moves it on from its email.
    Inquiry.objects.filter(pk=inquiry.pk).update(
        escalated_at=timezone.now() - datetime.timedelta(days=5)
    )
    escalate_overdue_inquiries.delay()
    escalated = portal.email("inquiry-escalated", settings.TRIAGE_EMAIL)
    portal.every_link_opens(escalated)
    page = portal.follow(escalated, rf"^/{ADMIN_PATH}patients/inquiry/\d+/change/$")
    portal.log_in(page, tess)
    page.locator("#id_to_status").select_option("contacted")
    portal.submit(page, page.locator(STATUS_BUTTON))
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.escalation_level) == (InquiryStatus.CONTACTED, 2)

    # 3. The reminded coordinator's link opens the inquiry too (now contacted).
    page = portal.follow(reminder, rf"^/{ADMIN_PATH}patients/inquiry/\d+/change/$")
    portal.log_in(page, erin)
    assert page.url.endswith(f"/{ADMIN_PATH}patients/inquiry/{inquiry.pk}/change/")


def test_a_shared_notes_link_opens_with_its_passcode_in_a_fresh_browser(portal):
    """Not an email of ours, but a link a patient sends by email herself."""
    page = portal.browser("en")
    page.goto(f"/trials/{SITE_A_TRIAL}/")
    page.get_by_role("textbox", name=re.compile(r"^Your note")).fill("Ask about the MRI")
    page.get_by_role("button", name="Save the note").click()
    page.get_by_label("Passcode (at least 8 characters)").fill("blue-harbour-71")
    page.get_by_role("button", name="Create the link").click()
    link = page.get_by_label("Link", exact=True)
    expect(link).to_have_value(re.compile(rf"^{portal.url}/notes/s/[A-Za-z0-9_-]{{43}}/$"))

    other = portal.browser("en")
    response = other.goto(link.input_value())
    assert response.status == 200
    other.get_by_label("Passcode").fill("blue-harbour-71")
    other.get_by_role("button", name="Show the notes").click()
    expect(other.get_by_role("list", name="The notes")).to_contain_text("Ask about the MRI")
    # Its language buttons are forms posted from a secret-link page (issue 13).
    portal.submit(other, other.get_by_role("button", name="Italiano"))
    expect(other.locator("html")).to_have_attribute("lang", "it")


# --- the table: every email template and the journeys that follow its links ---------------------

JOURNEYS = {
    "alert-confirm": (
        "test_a_saved_search_is_confirmed_then_managed_from_its_digest",
        "test_a_watched_trial_change_email_unsubscribes_in_one_click",
    ),
    "alert-digest": (
        "test_a_saved_search_is_confirmed_then_managed_from_its_digest",
        "test_a_watched_trial_change_email_unsubscribes_in_one_click",
    ),
    "inquiry-to-site": (
        "test_the_inquiry_copy_leads_to_the_status_page_and_to_withdrawal",
        "test_a_status_change_and_a_reply_reach_the_patient_who_prints_her_answers",
    ),
    "inquiry-copy": ("test_the_inquiry_copy_leads_to_the_status_page_and_to_withdrawal",),
    "inquiry-withdrawn": ("test_the_inquiry_copy_leads_to_the_status_page_and_to_withdrawal",),
    "inquiry-status": (
        "test_a_status_change_and_a_reply_reach_the_patient_who_prints_her_answers",
        "test_a_not_eligible_email_offers_other_trials_and_a_one_click_alert",
    ),
    "inquiry-reply": ("test_a_status_change_and_a_reply_reach_the_patient_who_prints_her_answers",),
    "site-confirm": ("test_the_still_recruiting_email_records_the_answer_of_the_coordinator",),
    "inquiry-chasing": (
        "test_an_unanswered_inquiry_is_chased_and_escalated_through_emails_that_work",
    ),
    "inquiry-reminder": (
        "test_an_unanswered_inquiry_is_chased_and_escalated_through_emails_that_work",
    ),
    "inquiry-escalated": (
        "test_an_unanswered_inquiry_is_chased_and_escalated_through_emails_that_work",
    ),
    "staff-otp-setup": (
        "test_a_staff_set_up_link_pairs_the_authenticator_with_the_password_and_a_code",
    ),
}


def email_templates() -> set[str]:
    return {path.name.removesuffix("-subject.txt") for path in TEMPLATES.glob("*-subject.txt")}


def test_every_email_template_has_a_journey():
    missing = sorted(email_templates() - set(JOURNEYS))
    assert not missing, f"emails whose links no browser test follows: {missing} (add to JOURNEYS)"
    assert set(JOURNEYS) <= email_templates(), "JOURNEYS names a template that does not exist"
    for template, tests in JOURNEYS.items():
        for name in tests:
            assert callable(globals().get(name)), f"{template}: no test named {name}"

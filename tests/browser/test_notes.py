"""Private notes in real Chromium: a note on a selected passage, shared through a link, read
in another browser with the passcode; and what the database holds meanwhile (no note).

Pages are served with the strict Content-Security-Policy production will send (no inline
script or style): a violation fails the test.
"""

import datetime
import os
import re

import pytest
from playwright.sync_api import expect

from config.ratelimit import reset
from notes import services as notes
from notes.models import SharedNotes
from notes.views import OPEN_PER_IP, SHARE_CREATE_PER_IP
from tests.browser.conftest import PHONE, axe_violations, screenshot
from tests.notes.helpers import database_rows_containing, derive_verifier
from trials.models import Trial

pytestmark = pytest.mark.browser

NCT = "NCT05738187"
PASSAGE = "allowing prolonged survival for less than one third"  # no glossary term inside
NOTE = "Ask Dr Martin whether the quokka clinic in Nancy also offers this"
PASSCODE = "blue-harbour-71"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


@pytest.fixture(autouse=True)
def fresh_notes_rate_limits():
    for limit in (OPEN_PER_IP, SHARE_CREATE_PER_IP):
        reset(limit, "127.0.0.1")


def with_strict_csp(page):
    """Add the production CSP to every response; keep the page's violations in __csp."""

    def add_header(route):
        response = route.fetch(max_redirects=0)
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": CSP}
        )

    page.route("**/*", add_header)
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    return page


def csp_violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def select_with_mouse(page, text):
    """Drag the mouse over `text`, as a patient would."""
    box = page.evaluate(
        """(text) => {
          const root = document.querySelector('.trial-page');
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          let node;
          while ((node = walker.nextNode())) {
            const at = node.data.indexOf(text);
            if (at < 0) continue;
            const first = document.createRange(), last = document.createRange();
            first.setStart(node, at); first.setEnd(node, at + 1);
            last.setStart(node, at + text.length - 1); last.setEnd(node, at + text.length);
            node.parentElement.scrollIntoView({block: 'center', behavior: 'instant'});
            const a = first.getBoundingClientRect(), b = last.getBoundingClientRect();
            return {x1: a.left + 1, y1: (a.top + a.bottom) / 2,
                    x2: b.right - 1, y2: (b.top + b.bottom) / 2};
          }
          throw new Error('not on the page: ' + text);
        }""",
        text,
    )
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y2"], steps=5)
    page.mouse.up()
    assert page.evaluate("getSelection().toString()") == text


def note_field(page):
    return page.get_by_role("textbox", name=re.compile(r"^Your note"))


def status(page):
    return page.locator(".tf-notes .tf-notes-status")


def make_share(passcode: str, ciphertext: bytes | None = None) -> str:
    """A link made as notes.js would, with notes that cannot be decrypted (random bytes)."""
    salt = os.urandom(16)
    _, token = notes.notes_share_create(
        trial=Trial.objects.get(nct_id=NCT),
        ciphertext=ciphertext or os.urandom(200),
        iv=os.urandom(12),
        salt=salt,
        iterations=notes.PBKDF2_ITERATIONS,
        verifier=derive_verifier(passcode, salt),
        expires_days=7,
    )
    return f"/notes/s/{token}/"


def test_a_note_on_a_passage_is_shared_and_read_in_another_browser(new_page, live_server):
    page = with_strict_csp(new_page())
    page.goto(f"/trials/{NCT}/")
    expect(page.get_by_role("heading", name="My notes", exact=True)).to_be_visible()

    # 1. Select a passage: "Add a note" appears next to it.
    select_with_mouse(page, PASSAGE)
    page.get_by_role("button", name="Add a note", exact=True).click()
    expect(page.get_by_label("Passage of the page it is about (optional)")).to_have_value(PASSAGE)
    expect(note_field(page)).to_be_focused()
    page.keyboard.type(NOTE)
    page.get_by_role("button", name="Save the note").click()
    expect(status(page)).to_have_text("Your note is kept in this browser.")

    # 2. It is listed in "My notes", its passage highlighted; both survive a reload.
    mine = page.get_by_role("list", name="Your notes on this trial")
    page.reload()
    expect(mine.get_by_role("listitem")).to_have_count(1)
    expect(mine).to_contain_text(NOTE)
    expect(mine).to_contain_text("In “Overview”")
    expect(page.locator("mark.tf-note-mark")).to_have_text(PASSAGE)
    assert axe_violations(page) == []

    # 3. Share it: passcode, expiry, link.
    page.get_by_label("Passcode (at least 8 characters)").fill("short")
    page.get_by_role("button", name="Create the link").click()
    expect(page.locator(".tf-share-status")).to_have_text(
        "The passcode needs at least 8 characters."
    )
    page.get_by_label("Passcode (at least 8 characters)").fill(PASSCODE)
    page.get_by_label("The link works for").select_option("3")
    page.get_by_role("button", name="Create the link").click()
    link = page.get_by_label("Link", exact=True)
    expect(link).to_have_value(re.compile(rf"^{live_server.url}/notes/s/[A-Za-z0-9_-]{{43}}/$"))
    expect(page.get_by_label("Passcode", exact=True)).to_have_value(PASSCODE)
    expect(page.locator(".tf-share-result")).to_contain_text("Send the passcode another way")
    url = link.input_value()
    screenshot(page, "notes-trial-page")
    assert axe_violations(page) == []
    assert csp_violations(page) == []

    share = SharedNotes.objects.get()
    assert abs(share.expires_at - share.created_at - datetime.timedelta(days=3)).seconds < 60
    # The server holds neither the note, nor its passage in a note, nor the passcode.
    assert database_rows_containing("quokka") == []
    assert database_rows_containing(PASSCODE) == []

    # 4. Someone else, in a fresh browser, opens the link.
    other = with_strict_csp(new_page())
    response = other.goto(url)
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    expect(other.get_by_role("heading", level=1)).to_contain_text("Local Cryotherapy")
    expect(other.get_by_text(NOTE)).to_have_count(0)
    assert axe_violations(other) == []

    other.get_by_label("Passcode").fill("not-the-passcode")
    other.get_by_role("button", name="Show the notes").click()
    expect(status(other)).to_have_text(
        "Wrong passcode. After 4 more wrong passcodes, this link will be locked for 15 minutes."
    )
    expect(other.get_by_label("Passcode")).to_be_focused()

    other.get_by_label("Passcode").fill(PASSCODE)
    other.get_by_role("button", name="Show the notes").click()
    shared = other.get_by_role("list", name="The notes")
    expect(shared).to_contain_text(NOTE)
    expect(shared).to_contain_text(PASSAGE)
    expect(other.locator("mark.tf-note-mark")).to_have_text(PASSAGE)
    expect(other.get_by_role("heading", name="The notes")).to_be_focused()
    shared.get_by_role("link").click()
    expect(other.locator("mark.tf-note-mark")).to_be_focused()
    screenshot(other, "notes-shared-page")
    assert axe_violations(other) == []
    assert csp_violations(other) == []
    assert database_rows_containing("quokka") == []

    # 5. A changed byte of the ciphertext: a clear message, not a crash.
    data = bytearray(share.ciphertext)
    data[-1] ^= 1
    SharedNotes.objects.filter(pk=share.pk).update(ciphertext=bytes(data))
    third = new_page()
    third.goto(url)
    third.get_by_label("Passcode").fill(PASSCODE)
    third.get_by_role("button", name="Show the notes").click()
    expect(status(third)).to_contain_text("The notes could not be decrypted")
    expect(third.get_by_text(NOTE)).to_have_count(0)


def test_five_wrong_passcodes_lock_the_link(new_page):
    url = make_share("the-right-one")
    page = with_strict_csp(new_page())
    page.goto(url)
    for left in (4, 3, 2, 1):
        page.get_by_label("Passcode").fill(f"wrong-guess-{left}")
        page.get_by_role("button", name="Show the notes").click()
        expect(status(page)).to_contain_text(f"After {left} more wrong passcode")
    page.get_by_label("Passcode").fill("wrong-guess-5")
    page.get_by_role("button", name="Show the notes").click()
    locked = "Too many wrong passcodes: this link is locked. Try again in 15 minutes."
    expect(status(page)).to_have_text(locked)
    expect(page.get_by_label("Passcode")).to_have_attribute("aria-invalid", "true")

    # Even the right passcode waits for the lock to end.
    page.get_by_label("Passcode").fill("the-right-one")
    page.get_by_role("button", name="Show the notes").click()
    expect(status(page)).to_contain_text("this link is locked")
    share = SharedNotes.objects.get()
    assert share.locked_until is not None and share.failed_attempts_total == 5
    assert csp_violations(page) == []


def test_the_right_passcode_with_damaged_notes_says_so(new_page):
    page = new_page()
    page.goto(make_share("correct horse battery"))
    page.get_by_label("Passcode").fill("correct horse battery")
    page.get_by_role("button", name="Show the notes").click()
    expect(status(page)).to_have_text(
        "The notes could not be decrypted: the link has been altered or damaged. "
        "Ask the person who shared it for a new link."
    )


def test_an_expired_link_says_so(new_page):
    url = make_share("whatever-it-is")
    SharedNotes.objects.update(expires_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    page = new_page()
    response = page.goto(url)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This link has expired or does not exist"
    )


def test_a_note_can_be_added_with_the_keyboard_edited_and_deleted(new_page):
    page = new_page()
    page.goto(f"/trials/{NCT}/")
    # Nothing selected yet: the panel's button says what to do.
    add_selected = page.get_by_role("button", name="Add a note about the selected text")
    add_selected.click()
    expect(status(page)).to_contain_text("Select a passage of the trial first")

    # A selection made with the keyboard (caret browsing), then the panel's button.
    page.evaluate(
        """() => {
          const item = [...document.querySelectorAll('.criteria li')]
            .find(li => li.textContent.trim() === 'Subject under court protection');
          getSelection().selectAllChildren(item);
        }"""
    )
    add_selected.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Passage of the page it is about (optional)")).to_have_value(
        "Subject under court protection"
    )
    expect(note_field(page)).to_be_focused()
    page.keyboard.type("I had an MRI last year: is that a problem?")
    page.keyboard.press("Tab")  # to the passage
    page.keyboard.press("Tab")  # to "Save the note"
    page.keyboard.press("Enter")
    mine = page.get_by_role("list", name="Your notes on this trial")
    expect(mine).to_contain_text("I had an MRI last year")
    expect(mine).to_contain_text("In “Eligibility”")
    expect(page.locator("mark.tf-note-mark")).to_have_text("Subject under court protection")

    # A second note, with no passage.
    note_field(page).fill("Bring the list of my medicines")
    page.get_by_role("button", name="Save the note").click()
    expect(mine.get_by_role("listitem")).to_have_count(2)

    # Edit in place.
    mine.get_by_role("listitem").first.get_by_role("button", name="Edit").click()
    editor = page.get_by_role("textbox", name="Edit your note")
    expect(editor).to_be_focused()
    editor.fill("I had two MRIs last year: is that a problem?")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(status(page)).to_have_text("Your note is updated.")
    expect(mine).to_contain_text("I had two MRIs last year")

    # Delete, after a confirmation; "Keep it" keeps it.
    first = mine.get_by_role("listitem").first
    first.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Keep it")).to_be_focused()
    page.get_by_role("button", name="Keep it").click()
    expect(mine.get_by_role("listitem")).to_have_count(2)
    first.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete the note").click()
    expect(status(page)).to_have_text("The note is deleted.")
    expect(mine.get_by_role("listitem")).to_have_count(1)
    expect(page.locator("mark.tf-note-mark")).to_have_count(0)
    assert page.evaluate(f"JSON.parse(localStorage.getItem('tf-notes:{NCT}')).length") == 1


def test_notes_of_a_browser_without_javascript_move_to_local_storage(new_page):
    page = new_page(java_script_enabled=False)
    page.goto(f"/trials/{NCT}/")
    expect(page.get_by_text("Sharing needs JavaScript")).to_be_visible()
    expect(page.get_by_role("button", name="Create the link")).to_be_hidden()
    note_field(page).fill("Written with JavaScript of")
    page.get_by_role("button", name="Save the note").click()
    mine = page.get_by_role("list", name="Your notes on this trial")
    expect(mine.get_by_role("paragraph").first).to_have_text("Written with JavaScript of")
    expect(page.get_by_text("Your note is kept in this browser.")).to_be_visible()
    # Edited in place without JavaScript too (a <details> holds the form).
    mine.get_by_text("Edit", exact=True).click()
    page.get_by_role("textbox", name="Edit your note").fill("Written with JavaScript off")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(mine.get_by_role("paragraph").first).to_have_text("Written with JavaScript off")
    assert database_rows_containing("JavaScript off") == []

    # The same browser with JavaScript on: the note moves into localStorage, the cookie goes.
    cookies = page.context.cookies()
    later = new_page()
    later.context.add_cookies(cookies)
    later.goto(f"/trials/{NCT}/")
    mine = later.get_by_role("list", name="Your notes on this trial")
    expect(mine).to_contain_text("Written with JavaScript off")
    assert not [c for c in later.context.cookies() if c["name"] == f"tf_notes_{NCT}"]
    stored = later.evaluate(f"localStorage.getItem('tf-notes:{NCT}')")
    assert "Written with JavaScript off" in stored


def test_the_shared_notes_page_needs_javascript_and_says_so(new_page):
    page = new_page(java_script_enabled=False)
    page.goto(make_share("some-passcode"))
    expect(page.get_by_text("Reading shared notes needs JavaScript")).to_be_visible()
    expect(page.get_by_role("button", name="Show the notes")).to_be_hidden()
    # Its language buttons are plain forms and work without JavaScript.
    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_the_shared_notes_page_changes_language(new_page):
    url = make_share("some-passcode")
    page = new_page()
    page.goto(url)
    page.get_by_role("button", name="Italiano").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    assert page.url.endswith(url)
    expect(page.get_by_role("button", name="Italiano")).to_have_attribute("aria-current", "true")


def test_the_notes_work_at_phone_width(new_page):
    page = with_strict_csp(new_page(viewport=PHONE))
    page.goto(f"/trials/{NCT}/")
    select_with_mouse(page, PASSAGE)
    page.get_by_role("button", name="Add a note", exact=True).click()
    note_field(page).fill("On my phone")
    page.get_by_role("button", name="Save the note").click()
    expect(page.locator("mark.tf-note-mark")).to_have_text(PASSAGE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "notes-trial-phone")

    shared = with_strict_csp(new_page(viewport=PHONE))
    shared.goto(make_share("phone-passcode"))
    assert shared.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(shared) == []
    assert csp_violations(page) == [] and csp_violations(shared) == []


def test_notes_too_long_to_share_are_refused_before_any_upload(new_page):
    page = new_page()
    page.goto(f"/trials/{NCT}/")
    page.get_by_label("Passcode (at least 8 characters)").fill(PASSCODE)
    page.get_by_role("button", name="Create the link").click()
    expect(page.locator(".tf-share-status")).to_have_text("Add a note before sharing.")

    # 40 notes of 2,000 characters: over the 64 KB a link can hold.
    page.evaluate(
        """(key) => {
          const now = new Date().toISOString();
          const notes = Array.from({length: 40}, (_, i) => ({
            id: (0x10000000 + i).toString(16), text: 'x'.repeat(2000), created: now, updated: now,
          }));
          localStorage.setItem(key, JSON.stringify(notes));
        }""",
        f"tf-notes:{NCT}",
    )
    page.reload()
    expect(
        page.get_by_role("list", name="Your notes on this trial").get_by_role("listitem")
    ).to_have_count(40)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_label("Passcode (at least 8 characters)").fill(PASSCODE)
    page.get_by_role("button", name="Create the link").click()
    expect(page.locator(".tf-share-status")).to_have_text(
        "Your notes are too long to share: at most 64 KB once encrypted. "
        "Shorten or delete some notes."
    )
    assert posts == []
    assert not SharedNotes.objects.exists()


def test_a_passcode_is_made_when_the_patient_gives_none(new_page):
    page = new_page()
    page.goto(f"/trials/{NCT}/")
    note_field(page).fill("A note without a passage")
    page.get_by_role("button", name="Save the note").click()
    page.get_by_role("button", name="Make a passcode for me").click()
    made = page.get_by_label("Passcode (at least 8 characters)").input_value()
    assert re.fullmatch(r"[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}", made)
    page.get_by_label("Passcode (at least 8 characters)").fill("")  # empty: one is made
    page.get_by_role("button", name="Create the link").click()
    passcode = page.get_by_label("Passcode", exact=True)
    expect(passcode).to_have_value(re.compile(r"^[2-9a-hjkmnp-z]{4}(-[2-9a-hjkmnp-z]{4}){2}$"))
    url = page.get_by_label("Link", exact=True).input_value()

    other = new_page()
    other.goto(url)
    other.get_by_label("Passcode").fill(passcode.input_value())
    other.get_by_role("button", name="Show the notes").click()
    expect(other.get_by_role("list", name="The notes")).to_contain_text("A note without a passage")

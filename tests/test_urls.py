"""Each URL prefix belongs to one app, and no app's pattern swallows another's."""

from django.urls import resolve


def test_the_feed_is_never_read_as_a_trial():
    assert resolve("/trials/feed/").view_name == "notifications:feed"


def test_a_trial_page_takes_an_nct_number_in_any_case():
    match = resolve("/trials/nct05738187/")
    assert (match.view_name, match.kwargs) == ("trials:detail", {"nct_id": "NCT05738187"})


def test_each_trial_sub_page_goes_to_the_app_that_owns_it():
    owners = {
        "/trials/NCT05738187/contact/": "patients:contact",
        "/trials/NCT05738187/print/": "trials:print",
        "/trials/NCT05738187/watch/": "notifications:watch",
        "/trials/NCT05738187/notes/": "trial-notes:add",
        "/notes/share/": "notes:share",
        "/alerts/one-click/x/": "notifications:one-click-alert",
    }
    assert {path: resolve(path).view_name for path in owners} == owners

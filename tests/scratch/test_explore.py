import pytest
pytestmark = pytest.mark.django_db

def show(label, params):
    from trials.search import resolve_place, search_trials
    params, _ = resolve_place(params)
    r = search_trials(params, page_size=6, with_facets=False)
    print(label, r.count, [(h.trial.nct_id, h.trial.title[:50], h.nearest_site and h.nearest_site['distance_km']) for h in r.hits])

def test_explore():
    from trials.search import SearchParams
    show("D", SearchParams(q='"head and neck cancer"', near="Strasbourg"))
    show("D-any", SearchParams(q='"head and neck cancer"', near="Strasbourg", radius_km=None))
    show("E", SearchParams(q='"head and neck cancer"', near="Milan"))
    show("F", SearchParams(q='"breast cancer"', near="Strasbourg"))

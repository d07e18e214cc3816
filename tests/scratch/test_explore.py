import pytest
pytestmark = pytest.mark.django_db

def test_explore():
    from trials.models import Trial
    for n in ['NCT05738187', 'NCT07635641']:
        t = Trial.objects.get(nct_id=n)
        print(n, t.overall_status, t.condition_meshes, t.conditions, [(s.city, s.status, s.latitude) for s in t.sites.all()][:3])
    from patients.alternatives import alternatives_for
    a = alternatives_for(Trial.objects.get(nct_id='NCT05738187'), 'Strasbourg')
    print(a.params, a.widened, [(h.trial.nct_id, h.nearest_site and h.nearest_site['city'], h.nearest_site and h.nearest_site['distance_km']) for h in a.hits])
    a = alternatives_for(Trial.objects.get(nct_id='NCT07635641'), 'Milan')
    print(a.params.q, a.widened, [(h.trial.nct_id, h.nearest_site and h.nearest_site['city'], h.nearest_site and h.nearest_site['distance_km']) for h in a.hits])

"""The generated plain-language read: faithful to its fields, on every page, in every language.

The claims are checked here independently of the generator: each kind of statement (placebo,
randomised, masking, phase, observational, numbers...) is looked up in our own wording (the
sentence's translated template, not the registry words filled into it) and held against the
trial's fields.
"""

import json
import re

import pytest

from tests.conftest import DEMO_DATA, import_records
from trials import readability
from trials.models import Trial
from trials.plain import plain_read, source_value

pytestmark = pytest.mark.django_db
LANGUAGES = ("en", "fr", "it")
LABEL = {
    "en": "Our plain-language read of the registry record, made automatically.",
    "fr": "Notre lecture en langage simple de la fiche du registre, faite automatiquement.",
    "it": "La nostra lettura in parole semplici della scheda del registro, fatta in automatico.",
}
# Our words for each claim, in the three languages.
WORDS = {
    "placebo": r"placebo",
    "chance": r"by chance|randomised|hasard|randomisée|a caso|randomizzat",
    "masking": r"blind|open-label|knows who|aveugle|étude est ouverte|sait qui|savent pas qui|"
    r"cieco|in aperto|sanno chi|non sa chi",
    "phase": r"\bphases?\b|\bfasi\b|\bfase\b",
    "observational": r"observational|observationnelle|osservazionale",
    "comparison": r"comparison group|groupe de comparaison|gruppo di confronto",
    "small": r"small study|petite étude|studio piccolo",
    "one_site": r"one site|seul centre|solo centro",
    "stopped": r"stopped early|withdrawn|paused|arrêtée|retirée|en pause|fermato|ritirato|"
    r"in pausa",
}


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


def _flat(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _types(trial) -> list[str]:
    return [(arm.get("type") or "").upper() for arm in trial.arm_groups]


def _check(trial: Trial, sentence, site_count: int) -> list[str]:
    """What is wrong with one sentence: claims its fields do not support."""
    problems = []
    ours = sentence.template.lower()
    key = sentence.key

    def expect(condition: bool, claim: str):
        if not condition:
            problems.append(f"{key}: {claim} not in the fields: {sentence.text!r}")

    if re.search(WORDS["placebo"], ours):
        if key == "design.no_placebo":
            expect("PLACEBO_COMPARATOR" not in _types(trial) and all(_types(trial)), "no placebo")
        else:
            expect("PLACEBO_COMPARATOR" in _types(trial), "placebo")
            expect(any(s.endswith(".type") for s in sentence.sources), "placebo's arm")
    if re.search(WORDS["chance"], ours):
        wanted = "NON_RANDOMIZED" if key == "design.not_randomised" else "RANDOMIZED"
        expect(trial.allocation == wanted, wanted)
    if key == "limits.randomised_no_choice":
        expect(trial.allocation == "RANDOMIZED", "randomised")
    if re.search(WORDS["masking"], ours) or key.startswith("design.masking"):
        level = {
            "design.open_label": "NONE",
            "limits.open_label": "NONE",
            "design.masking_single": "SINGLE",
            "design.masking_double": "DOUBLE",
            "design.masking_triple": "TRIPLE",
            "design.masking_quadruple": "QUADRUPLE",
        }.get(key)
        expect(level is not None and trial.masking == level, f"masking {level}")
    if re.search(WORDS["phase"], ours):
        named = key.rsplit(".", 1)[-1]
        if key.startswith(("design.phase.", "lead_to.phase.")):
            expect(named in trial.phases, named)
        elif key == "design.phase_combined":
            expect(len(trial.phases) > 1, "two phases")
        elif key == "limits.early_phase":
            expect(bool({"EARLY_PHASE1", "PHASE1"} & set(trial.phases)), "early phase")
        else:
            expect(False, "a phase")
        expect(trial.study_type == "INTERVENTIONAL", "interventional (phases)")
    if re.search(WORDS["observational"], ours):
        expect(trial.study_type == "OBSERVATIONAL", "observational")
    if key.startswith(("tested.observational", "lead_to.observational", "limits.observ")):
        expect(trial.study_type == "OBSERVATIONAL", "observational")
    if key.startswith(("design.interventional", "limits.general_interventional")):
        expect(trial.study_type == "INTERVENTIONAL", "interventional")
    if re.search(WORDS["comparison"], ours):
        comparators = {"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR"}
        expect(
            all(_types(trial)) and not (comparators | {"NO_INTERVENTION"}) & set(_types(trial)),
            "no comparison group",
        )
    if re.search(WORDS["small"], ours):
        expect((trial.enrollment_count or 0) < 50, "small")
    if re.search(WORDS["one_site"], ours):
        expect(site_count == 1, "one site")
    if re.search(WORDS["stopped"], ours):
        status = key.rsplit(".", 1)[-1]
        expect(trial.overall_status == status, status)
    if key.startswith("design.arm."):
        index = int(re.search(r"arm_groups\[(\d+)\]", " ".join(sentence.sources))[1])
        arm_type = key.removeprefix("design.arm.").upper()
        expect(_types(trial)[index] == ("" if arm_type == "UNTYPED" else arm_type), arm_type)
    if key.startswith("who.sex."):
        expect(trial.sex == key.rsplit(".", 1)[-1], "sex")
    if key == "who.healthy_yes":
        expect(trial.healthy_volunteers is True, "healthy volunteers")
    if key == "who.healthy_no":
        expect(trial.healthy_volunteers is False, "no healthy volunteers")
    if key.startswith("lead_to.purpose."):
        expect(trial.primary_purpose == key.rsplit(".", 1)[-1], "purpose")
    if key == "tested.kind.radiation":
        names = " ".join(i.get("name", "") for i in trial.interventions).lower()
        types = {i.get("type") for i in trial.interventions}
        expect("RADIATION" in types or re.search(r"proton|radi|stereotactic", names), "radiation")
    # Numbers: each number of the sentence is in our wording or in its source fields.
    sources = " ".join(_flat(source_value(trial, path)) for path in sentence.sources)
    unexplained = _numbers(sentence.text) - _numbers(sentence.template) - _numbers(sources)
    if key in ("design.arm_count", "lead_to.outcome_count", "design.more_arms",
               "lead_to.secondary_count"):  # fmt: skip
        listed = len(source_value(trial, sentence.sources[0]))
        listed -= 6 if key == "design.more_arms" else 0
        expect(unexplained <= {str(listed)}, f"count {listed}")
    elif key == "design.duration":
        months = (trial.primary_completion_date.year - trial.start_date.year) * 12 + (
            trial.primary_completion_date.month - trial.start_date.month
        )
        said = _numbers(sentence.text) - _numbers(sentence.template)
        expect(said in ({str(months)}, {str(round(months / 12))}), "duration")
    else:
        expect(not unexplained, f"numbers {sorted(unexplained)}")
    # Every sentence names its fields, and they exist.
    if key != "limits.you_can_stop":
        expect(bool(sentence.sources), "sources")
    for path in sentence.sources:
        if path != "sites":
            expect(source_value(trial, path) not in (None, "", []), f"source {path}")
    return problems


@pytest.fixture(scope="module")
def demo_trials(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return list(Trial.objects.prefetch_related("sites").order_by("nct_id"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_sentence_states_what_its_fields_do_not(demo_trials, language):
    assert len(demo_trials) >= 298
    problems = []
    for trial in demo_trials:
        site_count = sum(1 for s in trial.sites.all() if s.removed_at is None)
        read = plain_read(trial, language, site_count=site_count)
        assert read.parts, trial.nct_id
        for part in read.parts:
            for sentence in part.sentences:
                problems += [f"{trial.nct_id} {p}" for p in _check(trial, sentence, site_count)]
    assert problems == [], f"{len(problems)} problems, first: {problems[:10]}"


def test_the_checker_catches_a_sentence_its_fields_do_not_support():
    trial = Trial.objects.get(nct_id="NCT06129864")  # randomised, single-blind, phase 3
    read = plain_read(trial, "en")
    sentences = {s.key: s for p in read.parts for s in p.sentences}
    assert _check(trial, sentences["design.randomised"], 1) == []
    trial.allocation, trial.masking, trial.phases = "NON_RANDOMIZED", "NONE", ["PHASE2"]
    trial.arm_groups = [{"type": "EXPERIMENTAL", "label": "A"}]
    for key in ("design.randomised", "design.masking_single", "design.phase.PHASE3"):
        assert _check(trial, sentences[key], 1), key
    trial.enrollment_count = 12
    assert _check(trial, sentences["design.enrollment"], 1)


@pytest.mark.parametrize("language", LANGUAGES)
def test_most_demo_reads_are_at_grade_8_or_below(demo_trials, language):
    grades = []
    for trial in demo_trials:
        grade = readability.grade(
            plain_read(trial, language, site_count=0).generated_text, language
        )
        if grade is not None:
            grades.append(grade)
    share = sum(1 for g in grades if g <= 8) / len(grades)
    assert share >= 0.95, (language, share)


def _section(html: str) -> str:
    start = html.index("<section data-plain-read")
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_demo_trial_page_shows_the_read_with_its_label(client, demo_trials, language):
    for trial in demo_trials:
        response = client.get(f"/trials/{trial.nct_id}/", HTTP_ACCEPT_LANGUAGE=language)
        html = response.content.decode()
        assert html.count("data-plain-read") == 1, trial.nct_id
        section = _section(html)
        assert "<section" not in section[1:], trial.nct_id
        assert LABEL[language] in section, (trial.nct_id, language)
        assert "<li" in section or "plain-read-staff" in section, trial.nct_id


def test_the_print_page_and_the_api_carry_the_read(client):
    html = client.get("/trials/NCT06129864/print/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert LABEL["fr"] in _section(html)
    body = client.get("/api/v1/trials/NCT06129864", {"lang": "it"}).json()["plain_read"]
    assert body["language"] == "it" and body["label"].startswith(LABEL["it"][:40])
    sentences = [s for part in body["parts"] for s in part["sentences"]]
    randomised = next(s for s in sentences if s["key"] == "design.randomised")
    assert randomised["sources"] == ["allocation"] and "a caso" in randomised["text"]


def test_proton_therapy_is_a_radiation_treatment_not_a_substance(client):
    html = client.get("/trials/NCT07635641/").content.decode()
    section = _section(html)
    assert "a radiation treatment" in section and "proton therapy" in section
    assert "substance" not in html.lower()


def test_staff_texts_replace_their_part_and_say_who_reviewed_them(client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.what_could_go_wrong = "Freezing can hurt nearby nerves."
    trial.plain_written_by, trial.plain_reviewed_by = "TrialFinder editors", "the study team"
    trial.save()
    section = _section(client.get("/trials/NCT05738187/").content.decode())
    assert "Freezing can hurt nearby nerves." in section
    assert "Written by our team, not made automatically." in section
    assert "Reviewed by the study team." in section
    assert "You can stop taking part at any time." not in section  # the generated part is gone
    assert "It takes place at one site only." not in section
    assert "Women and men can take part." in section  # the other parts stay


def test_the_summary_is_shown_once(client):
    trial = Trial.objects.get(nct_id="NCT07635641")
    trial.plain_summary = trial.brief_summary
    trial.save()
    html = client.get("/trials/NCT07635641/").content.decode()
    body = html[html.index("<body") :]
    assert body.count(trial.brief_summary[:60]) == 1
    assert 'id="overview-heading"' not in body


def test_faqs_are_on_the_trial_page_collapsed_with_a_link_to_learn(client):
    html = client.get("/trials/NCT05738187/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    faqs = html[html.index('id="faqs"') : html.index("</section>", html.index('id="faqs"'))]
    assert faqs.count("<details") >= 5 and re.search(r'href="(/it)?/learn/"', faqs)


@pytest.mark.parametrize(
    ("language", "name"),
    [("fr", "cancer de la tête et du cou"), ("it", "tumore della testa e del collo")],
)
def test_conditions_show_in_the_page_language_with_the_registry_term(client, language, name):
    html = client.get("/trials/NCT07635641/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'{name} <span class="registry-term" lang="en">(Head and Neck Neoplasms)</span>' in (
        html
    )


def test_the_read_follows_a_changed_record(tmp_path):
    record = json.loads((DEMO_DATA / "NCT06129864.json").read_text())
    before = plain_read(Trial.objects.get(nct_id="NCT06129864"), "en")
    assert "design.randomised" in {s.key for p in before.parts for s in p.sentences}
    design = record["protocolSection"]["designModule"]["designInfo"]
    design["allocation"] = "NON_RANDOMIZED"
    record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2099-01-01"
    (tmp_path / "NCT06129864.json").write_text(json.dumps(record))
    assert import_records(tmp_path).updated == 1
    after = plain_read(Trial.objects.get(nct_id="NCT06129864"), "en")
    keys = {s.key for p in after.parts for s in p.sentences}
    assert "design.not_randomised" in keys and "design.randomised" not in keys


def test_the_admin_shows_each_sentence_beside_its_source_fields(admin_client):
    trial = Trial.objects.get(nct_id="NCT06129864")
    html = admin_client.get(f"/admin/trials/trial/{trial.pk}/change/").content.decode()
    table = html[html.index('class="plain-read-sources"') :]
    table = table[: table.index("</table>")]
    assert "A computer puts people into groups by chance" in table
    assert "<code>allocation</code>: &#x27;RANDOMIZED&#x27;" in table
    assert "<code>arm_groups[1].type</code>: &#x27;NO_INTERVENTION&#x27;" in table

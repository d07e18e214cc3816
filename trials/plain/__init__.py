"""Our plain-language read of a trial, generated from the registry record's structured fields.

No language model: each sentence is a fixed, translated sentence (gettext, like the rest of the
interface) filled with field values, and it carries the fields it came from (`Sentence.sources`,
paths into the Trial model such as "arm_groups[1].type"), so that the admin can show them side
by side and tests can check that no sentence says what its fields do not.

Computed on read, not stored: the read is a pure function of the trial row (plus the code and
the catalogues), so it can never be stale: an import that changes the record, a staff edit or a
wording fix shows at once, with no migration, no backfill of 600,000 rows and no second writer
in the importer. It costs about a millisecond; the trial page, its heaviest user, is already
cached whole under a key that hashes the row (trials.views.trial_page_key).

The five parts follow the seed pages: what is being tested, how the study works, what this
could lead to, what could go wrong, and who can take part, in short. Staff-written texts (the
Trial's portal fields) override the matching part; see `plain_read`.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from django.template.defaultfilters import date as date_filter
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext, override
from django.utils.translation import gettext as _

from trials.plain import rules

# Bump when the wording or the rules change, so that cached pages and reads are rebuilt.
VERSION = "1"
PART_KEYS = ("tested", "design", "lead_to", "limits", "who")
# The staff-written field that overrides each part (the seed pages' three boxes).
STAFF_FIELDS = {
    "tested": "what_it_could_mean",
    "lead_to": "what_it_could_lead_to",
    "limits": "what_could_go_wrong",
}
# At most this many groups are described one by one; more are counted.
MAX_ARMS = 6
MAX_OUTCOMES = 3
MAX_CRITERIA = 5
# Below this many participants a study is called small.
SMALL_STUDY = 50


class Registry(str):
    """A value copied from the registry record (English): marked lang="en" in HTML."""


@dataclass(frozen=True)
class Sentence:
    key: str  # what it states, e.g. "design.randomised" (tests check each key's claim)
    template: str  # translated, with %(name)s placeholders
    params: dict
    sources: tuple[str, ...]  # Trial fields it came from: "allocation", "arm_groups[0].type"
    # A registry line quoted as written (eligibility): shown as a quotation, not counted as our
    # own text by the readability figures.
    quote: bool = False

    @property
    def text(self) -> str:
        return self.template % self.params if self.params else self.template

    @property
    def html(self) -> SafeString:
        def show(value):
            if isinstance(value, Registry):
                return f'<span lang="en">{escape(value)}</span>'
            return escape(value) if isinstance(value, str) else value

        if not self.params:
            return mark_safe(escape(self.template))
        return mark_safe(escape(self.template) % {k: show(v) for k, v in self.params.items()})


@dataclass
class Part:
    key: str
    title: str
    sentences: list[Sentence] = field(default_factory=list)
    staff_text: str = ""  # when staff wrote this part, their text replaces the sentences

    @property
    def text(self) -> str:
        return self.staff_text or " ".join(s.text for s in self.sentences)


@dataclass
class PlainRead:
    language: str
    parts: list[Part]

    @property
    def generated_text(self) -> str:
        """Our own sentences (not staff texts, not quoted registry lines): what the readability
        figures measure."""
        return "\n".join(
            s.text for p in self.parts if not p.staff_text for s in p.sentences if not s.quote
        )

    @property
    def has_staff_text(self) -> bool:
        return any(p.staff_text for p in self.parts)

    def as_dict(self) -> dict:
        return {
            "language": self.language,
            "parts": [
                {
                    "key": p.key,
                    "title": p.title,
                    "written_by": "staff" if p.staff_text else "generated",
                    "text": p.text,
                    "sentences": []
                    if p.staff_text
                    else [
                        {"key": s.key, "text": s.text, "sources": list(s.sources), "quote": s.quote}
                        for s in p.sentences
                    ],
                }
                for p in self.parts
            ],
        }


def _s(key, sources, template, **params) -> Sentence:
    return Sentence(key, template, params, tuple(sources))


def plain_read(trial, language: str | None = None, *, site_count: int | None = None) -> PlainRead:
    """The read of `trial` in `language` (default: the active one). `site_count`: the number of
    its current sites, when the caller has it (else one query)."""
    language = (language or get_language() or "en")[:2]
    if site_count is None and trial.pk:
        site_count = trial.sites.filter(removed_at__isnull=True).count()
    with override(language):
        titles = {
            "tested": _("What is being tested"),
            "design": _("How the study works"),
            "lead_to": _("What this could lead to"),
            "limits": _("What could go wrong, and the limits of this study"),
            "who": _("Who can take part, in short"),
        }
        if trial.study_type == "OBSERVATIONAL":
            titles["tested"] = _("What is being studied")
        builders = {
            "tested": _tested,
            "design": _design,
            "lead_to": _lead_to,
            "limits": lambda t: _limits(t, site_count),
            "who": _who,
        }
        parts = []
        for key in PART_KEYS:
            staff = getattr(trial, STAFF_FIELDS[key], "").strip() if key in STAFF_FIELDS else ""
            part = Part(key, titles[key], [] if staff else builders[key](trial), staff)
            if part.sentences or part.staff_text:
                parts.append(part)
    return PlainRead(language, parts)


# --- What is being tested -------------------------------------------------------------------


def _kind_nouns():
    """(singular, plural) of each kind of intervention, in the active language."""
    return {
        "medicine": (_("a medicine"), _("medicines")),
        "biological": (_("a biological medicine"), _("biological medicines")),
        "device": (_("a medical device"), _("medical devices")),
        "radiation": (_("a radiation treatment"), _("radiation treatments")),
        "surgery": (_("an operation (surgery)"), _("operations (surgery)")),
        "procedure": (_("a medical procedure"), _("medical procedures")),
        "behaviour": (_("a change in behaviour or habits"), _("changes in behaviour or habits")),
        "diagnostic": (
            _("a test to find or check a disease"),
            _("tests to find or check a disease"),
        ),
        "supplement": (_("a food supplement"), _("food supplements")),
        "genetic": (_("a genetic treatment or test"), _("genetic treatments or tests")),
        "combination": (
            _("a product that combines a medicine and a device"),
            _("products that combine a medicine and a device"),
        ),
        "questionnaire": (_("a questionnaire"), _("questionnaires")),
        "lab": (_("a lab test on samples"), _("lab tests on samples")),
        "other": (_("something else"), _("other things")),
    }


def _interventions(trial) -> list[tuple[int, dict, str, tuple[str, ...]]]:
    """(index, intervention, kind, sources) of each intervention but placebos and shams, which
    are described with the groups that get them."""
    found = []
    for index, item in enumerate(trial.interventions):
        name = item.get("name") or ""
        kind, by_name = rules.intervention_kind(item.get("type") or "", name)
        if kind in ("placebo", "none"):
            continue
        sources = [f"interventions[{index}].type"] if item.get("type") else []
        if by_name or not item.get("type"):
            sources.append(f"interventions[{index}].name")
        found.append((index, item, kind, tuple(sources)))
    return found


def _names(items) -> str:
    names = [Registry(item.get("name", "").strip()) for _i, item, _k, _s in items]
    return _join(names)


def _join(values: list) -> str:
    values = [v for v in values if v]
    if len(values) <= 1:
        return values[0] if values else ""
    # Keep Registry markers by joining in HTML later: a joined string of registry names is
    # registry text as a whole.
    joined = _("%(list)s and %(last)s") % {"list": ", ".join(values[:-1]), "last": values[-1]}
    return Registry(joined) if all(isinstance(v, Registry) for v in values) else joined


def condition_names(trial) -> list[tuple[str, str]]:
    """(name in the active language, registry term) of the trial's conditions: the registrant's
    terms, else NLM's MeSH terms. The name is the vocabulary's where it knows the term."""
    from trials.vocabulary import display_name

    language = (get_language() or "en")[:2]
    terms = trial.conditions or trial.condition_meshes
    shown = []
    for term in terms:
        local = display_name(term, language) if language != "en" else None
        if local is None and language != "en":
            # The registrant's free text is not in the vocabulary; NLM's term may be.
            local = None
        shown.append((local or term, term))
    return shown


def _condition_phrase(trial) -> tuple[str, tuple[str, ...]]:
    names = condition_names(trial)[:3]
    if not names:
        return "", ()
    field_name = "conditions" if trial.conditions else "condition_meshes"
    values = [name if name != term else Registry(term) for name, term in names]
    sources = tuple(f"{field_name}[{i}]" for i in range(len(names)))
    return _join(values), sources


def _tested(trial) -> list[Sentence]:
    out = []
    items = _interventions(trial)
    condition, condition_sources = _condition_phrase(trial)
    observational = trial.study_type == "OBSERVATIONAL"
    if observational:
        out.append(
            _s(
                "tested.observational",
                ["study_type"],
                _(
                    "This study does not give a treatment. The team watches and measures what "
                    "happens to people."
                ),
            )
        )
    by_kind: dict[str, list] = {}
    for entry in items:
        by_kind.setdefault(entry[2], []).append(entry)
    nouns = _kind_nouns()
    for kind, entries in by_kind.items():
        singular, plural = nouns[kind]
        sources = [src for entry in entries for src in entry[3]]
        sources += [f"interventions[{entry[0]}].name" for entry in entries]
        sources = list(dict.fromkeys(sources))
        what = singular if len(entries) == 1 else plural
        if observational:
            template = _("It looks at people who get %(what)s: %(names)s.")
        elif kind == "other" and len(by_kind) > 1:
            template = _("It also uses %(what)s: %(names)s.")
        elif kind == "other":
            template = _("It tests: %(names)s.")
        else:
            template = _("It tests %(what)s: %(names)s.")
        out.append(_s(f"tested.kind.{kind}", sources, template, what=what, names=_names(entries)))
        explain = rules.kind_explanation(kind)
        if explain:
            out.append(_s(f"tested.explain.{kind}", sources, explain))
    if condition:
        template = (
            _("The study is about %(condition)s.")
            if observational
            else _("It is for %(condition)s.")
        )
        out.append(_s("tested.condition", condition_sources, template, condition=condition))
    return out


# --- How the study works --------------------------------------------------------------------


def _arm_kind(arm) -> str:
    return (arm.get("type") or "").upper()


def _design(trial) -> list[Sentence]:
    out = []
    if trial.study_type == "INTERVENTIONAL":
        out.append(
            _s(
                "design.interventional",
                ["study_type"],
                _(
                    "The study plan decides what each person gets. Then the team checks what "
                    "happens."
                ),
            )
        )
    elif trial.study_type == "OBSERVATIONAL":
        out.append(
            _s(
                "design.observational",
                ["study_type"],
                _("People get their usual care. The study only collects facts about them."),
            )
        )
    elif trial.study_type == "EXPANDED_ACCESS":
        out.append(
            _s(
                "design.expanded_access",
                ["study_type"],
                _(
                    "This is expanded access: a way to get a treatment that is not approved yet, "
                    "outside a trial."
                ),
            )
        )
    if trial.allocation == "RANDOMIZED":
        out.append(
            _s(
                "design.randomised",
                ["allocation"],
                _(
                    "A computer puts people into groups by chance, like tossing a coin. This is "
                    "called randomised."
                ),
            )
        )
    elif trial.allocation == "NON_RANDOMIZED":
        out.append(
            _s(
                "design.not_randomised",
                ["allocation"],
                _("People are not put into groups by chance."),
            )
        )
    arms = trial.arm_groups or []
    if arms:
        out.append(
            _s(
                "design.arm_count",
                ["arm_groups"],
                ngettext(
                    "The study has %(count)d group.",
                    "The study has %(count)d groups.",
                    len(arms),
                ),
                count=len(arms),
            )
        )
        for index, arm in enumerate(arms[:MAX_ARMS]):
            out.extend(_arm(index, arm))
        if len(arms) > MAX_ARMS:
            more = len(arms) - MAX_ARMS
            out.append(
                _s(
                    "design.more_arms",
                    ["arm_groups"],
                    ngettext(
                        "%(count)d more group is listed on the registry record.",
                        "%(count)d more groups are listed on the registry record.",
                        more,
                    ),
                    count=more,
                )
            )
        types = [_arm_kind(a) for a in arms]
        placebo = [i for i, t in enumerate(types) if t == "PLACEBO_COMPARATOR"]
        if placebo:
            out.append(
                _s(
                    "design.placebo",
                    [f"arm_groups[{i}].type" for i in placebo],
                    _("A placebo looks like the real treatment, but has no medicine in it."),
                )
            )
        elif all(types) and trial.study_type == "INTERVENTIONAL":
            out.append(
                _s(
                    "design.no_placebo",
                    [f"arm_groups[{i}].type" for i in range(len(arms))],
                    _("No group is a placebo group."),
                )
            )
    masking = {
        "NONE": (
            "design.open_label",
            _("Everyone knows who gets which treatment. This is called open-label."),
        ),
        "SINGLE": (
            "design.masking_single",
            _("One side does not know who gets which treatment. This is called single-blind."),
        ),
        "DOUBLE": (
            "design.masking_double",
            _(
                "Two sides do not know who gets which treatment, for example you and your "
                "doctor. This is called double-blind."
            ),
        ),
        "TRIPLE": (
            "design.masking_triple",
            _(
                "Three sides do not know who gets which treatment, such as you, your doctors "
                "and the people who check the results."
            ),
        ),
        "QUADRUPLE": (
            "design.masking_quadruple",
            _(
                "Four sides do not know who gets which treatment: you, the care team, the "
                "doctors running the study and the people who check the results."
            ),
        ),
    }.get(trial.masking)
    if masking:
        out.append(_s(masking[0], ["masking"], masking[1]))
    out.extend(_phase_sentences(trial))
    if trial.enrollment_count:
        if trial.enrollment_type == "ACTUAL":
            template = ngettext(
                "%(count)d person took part.", "%(count)d people took part.", trial.enrollment_count
            )
        elif trial.enrollment_type == "ESTIMATED":
            template = ngettext(
                "The study plans to include about %(count)d person.",
                "The study plans to include about %(count)d people.",
                trial.enrollment_count,
            )
        else:
            template = ngettext(
                "The study is for %(count)d person.",
                "The study is for %(count)d people.",
                trial.enrollment_count,
            )
        out.append(
            _s(
                "design.enrollment",
                ["enrollment_count", *(["enrollment_type"] if trial.enrollment_type else [])],
                template,
                count=trial.enrollment_count,
            )
        )
    out.extend(_dates(trial))
    return out


def _arm(index: int, arm: dict) -> list[Sentence]:
    kind = _arm_kind(arm)
    label = Registry((arm.get("label") or "").strip())
    names = [rules.strip_type_prefix(n) for n in arm.get("interventions") or []]
    what = Registry(", ".join(n for n in names if n)) if any(names) else ""
    src = [f"arm_groups[{index}].type", f"arm_groups[{index}].label"]
    if what:
        src.append(f"arm_groups[{index}].interventions")
    templates = {
        "EXPERIMENTAL": (
            _("Group “%(label)s” gets the treatment being tested: %(what)s."),
            _("Group “%(label)s” gets the treatment being tested."),
        ),
        "ACTIVE_COMPARATOR": (
            _("Group “%(label)s” gets another active treatment, to compare: %(what)s."),
            _("Group “%(label)s” gets another active treatment, to compare."),
        ),
        "PLACEBO_COMPARATOR": (
            _("Group “%(label)s” gets a placebo, to compare: %(what)s."),
            _("Group “%(label)s” gets a placebo, to compare."),
        ),
        "SHAM_COMPARATOR": (
            _(
                "Group “%(label)s” gets a sham: a fake procedure that looks like the real one. "
                "It is listed as %(what)s."
            ),
            _("Group “%(label)s” gets a sham: a fake procedure that looks like the real one."),
        ),
        "NO_INTERVENTION": (
            _("Group “%(label)s” gets no study treatment."),
            _("Group “%(label)s” gets no study treatment."),
        ),
    }
    with_what, without = templates.get(
        kind, (_("Group “%(label)s” gets: %(what)s."), _("Group “%(label)s” is one of the groups."))
    )
    if not label:
        return []
    if not kind:
        src = src[1:]
    if what and "%(what)s" in with_what:
        return [
            _s(f"design.arm.{kind.lower() or 'untyped'}", src, with_what, label=label, what=what)
        ]
    return [_s(f"design.arm.{kind.lower() or 'untyped'}", src, without, label=label)]


def _phase_sentences(trial) -> list[Sentence]:
    if trial.study_type != "INTERVENTIONAL" or not trial.phases:
        return []
    meaning = {
        "EARLY_PHASE1": _(
            "Early phase 1: a treatment is tried in very few people, at low doses, before phase 1."
        ),
        "PHASE1": _(
            "Phase 1: a new treatment is given to a small group for the first time, "
            "to find a safe dose and learn about side effects."
        ),
        "PHASE2": _(
            "Phase 2: the treatment is given to more people, to see if it works and "
            "to keep checking its safety."
        ),
        "PHASE3": _(
            "Phase 3: the treatment is compared with the usual care in a large "
            "group, to confirm that it works and is safe."
        ),
        "PHASE4": _(
            "Phase 4: the treatment is already approved. The study learns more about "
            "its use in daily life."
        ),
        "NA": _(
            "Phases do not apply to this study. This is usual for studies of devices, "
            "surgery or behaviour."
        ),
    }
    known = [p for p in trial.phases if p in meaning]
    out = []
    if len(known) > 1:
        out.append(
            _s(
                "design.phase_combined",
                ["phases"],
                _("This study combines two phases in one."),
            )
        )
    for phase in known:
        out.append(_s(f"design.phase.{phase}", ["phases"], meaning[phase]))
    return out


def _month(value: datetime.date) -> str:
    shown = date_filter(value, "YEAR_MONTH_FORMAT")
    # French and Italian write month names in lower case inside a sentence.
    return shown.lower() if (get_language() or "en")[:2] in ("fr", "it") else shown


def _dates(trial) -> list[Sentence]:
    out = []
    start, end = trial.start_date, trial.primary_completion_date
    if start:
        template = (
            _("It is planned to start in %(date)s.")
            if trial.start_date_type == "ESTIMATED"
            else _("It started in %(date)s.")
        )
        out.append(
            _s(
                "design.start",
                ["start_date", *(["start_date_type"] if trial.start_date_type else [])],
                template,
                date=_month(start),
            )
        )
    if end:
        template = (
            _("The main results were collected by %(date)s.")
            if trial.primary_completion_date_type == "ACTUAL"
            else _("The main results are expected by %(date)s.")
        )
        out.append(
            _s(
                "design.primary_completion",
                [
                    "primary_completion_date",
                    *(
                        ["primary_completion_date_type"]
                        if trial.primary_completion_date_type
                        else []
                    ),
                ],
                template,
                date=_month(end),
            )
        )
    if start and end and end > start:
        months = (end.year - start.year) * 12 + end.month - start.month
        if months >= 24:
            years = round(months / 12)
            template = ngettext(
                "That is about %(count)d year.", "That is about %(count)d years.", years
            )
            count = years
        elif months >= 1:
            template = ngettext(
                "That is about %(count)d month.", "That is about %(count)d months.", months
            )
            count = months
        else:
            template = ""
        if template:
            out.append(
                _s(
                    "design.duration",
                    ["start_date", "primary_completion_date"],
                    template,
                    count=count,
                )
            )
    return out


# --- What this could lead to ----------------------------------------------------------------


def _lead_to(trial) -> list[Sentence]:
    out = []
    purpose = rules.purpose_sentence(trial.primary_purpose)
    if purpose:
        out.append(_s(f"lead_to.purpose.{trial.primary_purpose}", ["primary_purpose"], purpose))
    items = _interventions(trial)
    condition, condition_sources = _condition_phrase(trial)
    tested = [entry for entry in items if entry[2] != "other"]
    if (
        trial.study_type == "INTERVENTIONAL"
        and tested
        and trial.primary_purpose in ("TREATMENT", "")
    ):
        names = _names(tested[:3])
        sources = [f"interventions[{e[0]}].name" for e in tested[:3]]
        sources += ["primary_purpose"] if trial.primary_purpose else []
        if condition:
            out.append(
                _s(
                    "lead_to.if_it_works",
                    sources + list(condition_sources),
                    _(
                        "If it works, this study could show whether %(names)s helps people with "
                        "%(condition)s."
                    ),
                    names=names,
                    condition=condition,
                )
            )
    elif trial.study_type == "OBSERVATIONAL" and condition:
        out.append(
            _s(
                "lead_to.observational",
                ["study_type", *condition_sources],
                _("It could help doctors understand %(condition)s better and plan new studies."),
                condition=condition,
            )
        )
    if trial.study_type == "INTERVENTIONAL":
        phase_next = {
            "EARLY_PHASE1": _(
                "At this early stage, it cannot show yet whether the treatment works."
            ),
            "PHASE1": _(
                "A phase 1 study can find a safe dose. It cannot show yet whether the "
                "treatment works."
            ),
            "PHASE2": _(
                "If the results are good, the treatment may be tested next in a larger "
                "phase 3 study."
            ),
            "PHASE3": _(
                "Good results from a phase 3 study can lead to the treatment being approved."
            ),
            "PHASE4": _(
                "It could show how well the treatment works in daily life, and find "
                "rare side effects."
            ),
        }
        last = next((p for p in reversed(trial.phases) if p in phase_next), None)
        if last:
            out.append(_s(f"lead_to.phase.{last}", ["phases"], phase_next[last]))
    outcomes = trial.primary_outcomes or []
    if outcomes:
        out.append(
            _s(
                "lead_to.outcome_count",
                ["primary_outcomes"],
                ngettext(
                    "The team has %(count)d main question (primary outcome).",
                    "The team has %(count)d main questions (primary outcomes).",
                    len(outcomes),
                ),
                count=len(outcomes),
            )
        )
    for index, outcome in enumerate(outcomes[:MAX_OUTCOMES]):
        sentence = _outcome(index, outcome)
        if sentence:
            out.append(sentence)
    return out


def _outcome(index: int, outcome: dict) -> Sentence | None:
    measure = (outcome.get("measure") or "").strip()
    if not measure:
        return None
    sources = [f"primary_outcomes[{index}].measure"]
    plain = rules.outcome_plain(measure)
    frame = rules.time_frame(outcome.get("time_frame") or "")
    if frame:
        sources.append(f"primary_outcomes[{index}].time_frame")
    if plain:
        if frame:
            return _s(
                "lead_to.outcome",
                sources,
                _("It measures %(what)s, %(when)s."),
                what=plain,
                when=frame,
            )
        return _s("lead_to.outcome", sources, _("It measures %(what)s."), what=plain)
    if len(measure.split()) > rules.MAX_QUOTED_WORDS:
        return None  # too long to quote in a plain text; the full list is on the page
    if frame:
        return _s(
            "lead_to.outcome",
            sources,
            _("It measures: “%(what)s”, %(when)s."),
            what=Registry(measure),
            when=frame,
        )
    return _s("lead_to.outcome", sources, _("It measures: “%(what)s”."), what=Registry(measure))


# --- What could go wrong ----------------------------------------------------------------------


def _limits(trial, site_count: int | None) -> list[Sentence]:
    out = []
    interventional = trial.study_type == "INTERVENTIONAL"
    status = trial.overall_status
    if status in ("TERMINATED", "WITHDRAWN", "SUSPENDED"):
        text = {
            "TERMINATED": _("The study was stopped early."),
            "WITHDRAWN": _("The study was withdrawn before anyone took part."),
            "SUSPENDED": _("The study is paused for now."),
        }[status]
        out.append(_s(f"limits.status.{status}", ["overall_status"], text))
        if trial.why_stopped:
            out.append(
                _s(
                    "limits.why_stopped",
                    ["why_stopped"],
                    _("The reason given: “%(why)s”."),
                    why=Registry(trial.why_stopped.strip()),
                )
            )
    if status == "UNKNOWN":
        out.append(
            _s(
                "limits.status.UNKNOWN",
                ["overall_status"],
                _(
                    "Nobody has confirmed its status for a long time. It may not be running any "
                    "more."
                ),
            )
        )
    if trial.enrollment_count and trial.enrollment_count < SMALL_STUDY:
        out.append(
            _s(
                "limits.small",
                ["enrollment_count"],
                ngettext(
                    "It is a small study (%(count)d person). Results from few people are less "
                    "sure.",
                    "It is a small study (%(count)d people). Results from few people are less "
                    "sure.",
                    trial.enrollment_count,
                ),
                count=trial.enrollment_count,
            )
        )
    arms = trial.arm_groups or []
    types = [_arm_kind(a) for a in arms]
    comparators = {"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION"}
    if interventional and arms and all(types) and not comparators & set(types):
        out.append(
            _s(
                "limits.no_comparison",
                [f"arm_groups[{i}].type" for i in range(len(arms))],
                _(
                    "There is no comparison group. So it is harder to tell whether changes come "
                    "from the treatment."
                ),
            )
        )
    if interventional and trial.masking == "NONE":
        out.append(
            _s(
                "limits.open_label",
                ["masking"],
                _(
                    "As everyone knows who gets what, this may colour how people report their "
                    "health."
                ),
            )
        )
    if interventional and {"EARLY_PHASE1", "PHASE1"} & set(trial.phases):
        out.append(
            _s(
                "limits.early_phase",
                ["phases"],
                _(
                    "It is an early study. Few people have had this treatment, so some side "
                    "effects may not be known yet."
                ),
            )
        )
    if site_count == 1:
        out.append(
            _s(
                "limits.single_site",
                ["sites"],
                _("It takes place at one site only. Results may not apply everywhere."),
            )
        )
    if trial.study_type == "OBSERVATIONAL":
        out.append(
            _s(
                "limits.observational",
                ["study_type"],
                _(
                    "An observational study can show links. It cannot prove that a treatment "
                    "causes a result."
                ),
            )
        )
    if interventional:
        out.append(
            _s(
                "limits.general_interventional",
                ["study_type"],
                _(
                    "In any trial, the treatment may not work for you, and it can have side "
                    "effects. You may need extra visits and tests."
                ),
            )
        )
    if trial.allocation == "RANDOMIZED":
        out.append(
            _s(
                "limits.randomised_no_choice",
                ["allocation"],
                _("You cannot choose your group."),
            )
        )
    if trial.study_type == "OBSERVATIONAL":
        out.append(
            _s(
                "limits.general_observational",
                ["study_type"],
                _("Taking part may mean extra questions, tests or visits."),
            )
        )
    if out:
        out.append(
            _s(
                "limits.you_can_stop",
                [],
                _("You can stop taking part at any time."),
            )
        )
    return out


# --- Who can take part ------------------------------------------------------------------------


def _who(trial) -> list[Sentence]:
    from trials.templatetags.trials_tags import age_range

    out = []
    if trial.minimum_age or trial.maximum_age:
        out.append(
            _s(
                "who.ages",
                [name for name in ("minimum_age", "maximum_age") if getattr(trial, name)],
                _("Ages: %(ages)s."),
                ages=age_range(trial),
            )
        )
    if trial.sex == "FEMALE":
        out.append(_s("who.sex.FEMALE", ["sex"], _("Only women can take part.")))
    elif trial.sex == "MALE":
        out.append(_s("who.sex.MALE", ["sex"], _("Only men can take part.")))
    elif trial.sex == "ALL" and (trial.eligibility_criteria or trial.minimum_age):
        out.append(_s("who.sex.ALL", ["sex"], _("Women and men can take part.")))
    if trial.healthy_volunteers is True:
        out.append(
            _s("who.healthy_yes", ["healthy_volunteers"], _("Healthy volunteers can take part."))
        )
    elif trial.healthy_volunteers is False:
        out.append(
            _s(
                "who.healthy_no",
                ["healthy_volunteers"],
                _("It is not open to healthy volunteers."),
            )
        )
    out.extend(_key_criteria(trial))
    return out


def _key_criteria(trial) -> list[Sentence]:
    lines = []
    for field_name in ("inclusion_criteria", "exclusion_criteria"):
        for index, item in enumerate(getattr(trial, field_name) or []):
            lines.append((field_name, index, (item.get("text") or "").strip()))
    matched = []
    used = set()
    for field_name, index, text in lines:
        found = rules.criterion(text, excluded=field_name == "exclusion_criteria")
        if found and found[0] not in used:
            used.add(found[0])
            matched.append(
                (
                    found[2],
                    _s(
                        f"who.criterion.{found[0]}",
                        [f"{field_name}[{index}]"],
                        found[1],
                        **found[3],
                    ),
                )
            )
    matched.sort(key=lambda m: m[0])
    out = [sentence for _priority, sentence in matched[:MAX_CRITERIA]]
    # Fewer than three lines a rule can restate: quote the first others as registered, with
    # only the mechanical simplifications (signs, units, abbreviations).
    for field_name, index, text in lines:
        if len(out) >= 3:
            break
        if not text or any(f"{field_name}[{index}]" in s.sources for s in out):
            continue
        if rules.is_age_line(text) or len(text.split()) > rules.MAX_QUOTED_WORDS * 2:
            continue
        if text.endswith(":"):  # a heading of sub-items ("any of the following:")
            continue
        template = (
            _("To join: “%(line)s”")
            if field_name == "inclusion_criteria"
            else _("You cannot join if: “%(line)s”")
        )
        out.append(
            Sentence(
                "who.quoted",
                template,
                {"line": Registry(rules.simplify_line(text))},
                (f"{field_name}[{index}]",),
                quote=True,
            )
        )
    if lines:
        out.append(
            _s(
                "who.full_list",
                ["eligibility_criteria"],
                _("The full lists are below. The study team decides who can join."),
            )
        )
    return out


_PATH_RE = re.compile(r"(\w+)|\[(\d+)\]")


def source_value(trial, path: str):
    """The current value of a sentence's source ("arm_groups[1].type") on `trial`; None when
    the path leads nowhere. "sites" is the number of current sites."""
    if path == "sites":
        return trial.sites.filter(removed_at__isnull=True).count() if trial.pk else None
    value = trial
    for name, index in _PATH_RE.findall(path):
        try:
            if index:
                value = value[int(index)]
            elif isinstance(value, dict):
                value = value.get(name)
            else:
                value = getattr(value, name)
        except (IndexError, KeyError, AttributeError, TypeError):
            return None
    return value

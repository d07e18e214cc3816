"""The rules that turn registry words into plain ones, each narrow enough to be faithful.

A rule fires only on a pattern it can restate without losing meaning ("ECOG 0-1" is a known
scale with known grades; "≥ 18 years" is a number and a sign). Anything else is quoted as
registered, or left to the full text on the page.
"""

import re

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# A registry phrase longer than this is not quoted inside a plain sentence.
MAX_QUOTED_WORDS = 12

_TYPE_PREFIX_RE = re.compile(
    r"^(Drug|Device|Biological|Procedure|Radiation|Behavioral|Genetic|Dietary Supplement|"
    r"Combination Product|Diagnostic Test|Other)\s*:\s*",
    re.IGNORECASE,
)


def strip_type_prefix(name: str) -> str:
    """ "Drug: Phesgo" (an arm's intervention name) → "Phesgo"."""
    return _TYPE_PREFIX_RE.sub("", name or "").strip()


# By registry type first; the name decides only when the type is missing or OTHER, or to tell
# surgery from other procedures. A placebo or a sham is never "being tested".
TYPE_KINDS = {
    "DRUG": "medicine",
    "BIOLOGICAL": "biological",
    "DEVICE": "device",
    "RADIATION": "radiation",
    "PROCEDURE": "procedure",
    "BEHAVIORAL": "behaviour",
    "DIAGNOSTIC_TEST": "diagnostic",
    "DIETARY_SUPPLEMENT": "supplement",
    "GENETIC": "genetic",
    "COMBINATION_PRODUCT": "combination",
}
NAME_KINDS = [
    (re.compile(r"\b(placebo|sham)\b", re.I), "placebo"),
    (re.compile(r"^(no (treatment|intervention)|observation|clinical observation)$", re.I), "none"),
    (
        re.compile(
            r"\b(proton|radiotherap\w*|radiation|irradiation|re-?irradiation|brachytherap\w*|"
            r"stereotactic|sbrt|imrt|radiosurgery|chemoradi\w*|carbon ion)\b",
            re.I,
        ),
        "radiation",
    ),
    (re.compile(r"\b(surgery|surgical|resection|\w+ectomy|\w+otomy)\b", re.I), "surgery"),
    (re.compile(r"\b(cryo\w*|\w*ablation|emboli[sz]ation)\b", re.I), "procedure"),
    (
        re.compile(
            r"\b(questionnaires?|surveys?|quality[- ]of[- ]life assessment|interview)", re.I
        ),
        "questionnaire",
    ),
    (
        re.compile(
            r"\b(biomarker|laboratory|biospecimen|blood (sample|draw)|pharmaco\w+ study)", re.I
        ),
        "lab",
    ),
]


def intervention_kind(type_: str, name: str) -> tuple[str, bool]:
    """(kind, decided by the name) of an intervention."""
    type_ = (type_ or "").upper()
    for pattern, kind in NAME_KINDS:
        if kind in ("placebo", "none") and pattern.search(name or ""):
            return kind, True
    if type_ == "PROCEDURE" and NAME_KINDS[3][0].search(name or ""):
        return "surgery", True
    if type_ in TYPE_KINDS:
        return TYPE_KINDS[type_], False
    for pattern, kind in NAME_KINDS:
        if pattern.search(name or ""):
            return kind, True
    return "other", False


def kind_explanation(kind: str) -> str:
    """One sentence on what a kind of intervention is, when the word alone may not say."""
    return {
        "biological": _(
            "A biological medicine is made from living cells, like antibodies or vaccines."
        ),
        "radiation": _(
            "Radiation treatment uses strong rays to kill sick cells. It is not a medicine."
        ),
        "device": _("A medical device is a tool or machine, not a medicine."),
        "genetic": _("A genetic treatment or test works with genes, the body's instructions."),
    }.get(kind, "")


def purpose_sentence(purpose: str) -> str:
    return {
        "TREATMENT": _("The main goal is to treat a disease."),
        "PREVENTION": _("The main goal is to prevent a disease or a problem."),
        "DIAGNOSTIC": _("The main goal is to find or diagnose a disease better."),
        "SUPPORTIVE_CARE": _(
            "The main goal is to help people feel better, for example with "
            "fewer symptoms or side effects."
        ),
        "SCREENING": _("The main goal is to find a disease early, in people with no signs of it."),
        "HEALTH_SERVICES_RESEARCH": _("The main goal is to improve how care is given."),
        "BASIC_SCIENCE": _("The main goal is to learn how the body or a disease works."),
        "DEVICE_FEASIBILITY": _("The main goal is a first check that a device can be used."),
        "ECT": _("The main goal is to give access to a treatment and learn from it."),
    }.get(purpose or "", "")


def _outcome_rules():
    return [
        (
            r"progression[- ]free survival|\bPFS\b",
            _("how long people live without the disease getting worse"),
        ),
        (r"overall survival", _("how long people live")),
        (
            r"(disease|cancer|event|relapse|recurrence|metastas[ie]s)[- ]free survival|\b[DIE]FS\b"
            r"|\bIBCFS\b",
            _("how long people stay free of the disease"),
        ),
        (
            r"pathologic(al)? complete response|\bpCR\b",
            _("how many people have no cancer left in the tissue removed by surgery"),
        ),
        (
            r"(objective|overall) (tumou?r )?response|\bORR\b|response rate",
            _("how many people's disease shrinks or goes away"),
        ),
        (
            r"maximum tolerated dose|\bMTD\b|dose[- ]limiting|recommended phase 2 dose|\bRP2D\b",
            _("the highest dose people can take safely"),
        ),
        (
            r"pharmacokinetic|\bAUC\b|\bC ?max\b|\bT ?max\b|half[- ]life|plasma concentration",
            _("how the body takes up and clears the medicine"),
        ),
        (
            r"adverse (events?|effects?)|side[- ]effects?|toxicit|\bsafety\b|tolerability",
            _("side effects and safety"),
        ),
        (r"quality of life|\bQoL\b|EORTC|\bQLQ", _("quality of life")),
        (r"blood pressure|\bSBP\b", _("blood pressure")),
        (r"\bHbA1c\b|\bA1C\b|glycated h(a)?emoglobin", _("long-term blood sugar (HbA1c)")),
        (r"\bpain\b", _("pain")),
        (r"recurrence|relapse", _("whether the disease comes back")),
        (r"hot flash|hot flush", _("hot flashes")),
        (r"satisfaction", _("how satisfied people are")),
        (r"feasibility", _("whether the study plan works in practice")),
        (
            r"sensitivity|specificity|diagnostic (accuracy|performance)",
            _("how well the test finds the disease"),
        ),
        (r"mortality|\bdeaths?\b", _("deaths")),
    ]


def outcome_plain(measure: str) -> str:
    """A plain name for a primary outcome measure, when a rule knows it; else ""."""
    for pattern, plain in _outcome_rules():
        if re.search(pattern, measure, re.I):
            return plain
    return ""


_FRAME_RE = re.compile(
    r"^\s*(?P<upto>up to\s+)?(?:approximately\s+|about\s+|~\s*)?(?P<n>\d{1,3})\s*"
    r"(?P<unit>day|week|month|year)s?\s*$",
    re.I,
)


def time_frame(text: str) -> str:
    """ "Up to approximately 7 years" → "for up to 7 years"; "" when not that simple."""
    match = _FRAME_RE.match(text or "")
    if not match:
        return ""
    n, unit, upto = int(match["n"]), match["unit"].lower(), bool(match["upto"])
    words = {
        "day": ngettext("%(count)d day", "%(count)d days", n),
        "week": ngettext("%(count)d week", "%(count)d weeks", n),
        "month": ngettext("%(count)d month", "%(count)d months", n),
        "year": ngettext("%(count)d year", "%(count)d years", n),
    }[unit] % {"count": n}
    if upto:
        return _("for up to %(time)s") % {"time": words}
    return _("after %(time)s") % {"time": words}


# --- Eligibility lines ----------------------------------------------------------------------

_AGE_LINE_RE = re.compile(r"^\W*(age|aged|patients? aged|\d+\s*years)\b|\bage\s*[≥>]=?", re.I)


def is_age_line(text: str) -> bool:
    """An age line repeats the ages already said."""
    return bool(_AGE_LINE_RE.search(text)) and len(text.split()) <= 10


_SIGNS = [
    (re.compile(r"\\?>=|≥|=>"), "≥"),
    (re.compile(r"\\?<=|≤|=<"), "≤"),
    (re.compile(r"\byrs?\b\.?", re.I), "years"),
    (re.compile(r"\bwks?\b\.?", re.I), "weeks"),
    (re.compile(r"\bmos?\b\.?(?=\s|$|,)", re.I), "months"),
    (re.compile(r"\\([\[\]*<>_])"), r"\1"),
]


def simplify_line(text: str) -> str:
    """The mechanical simplifications of a quoted line: markdown escapes, signs, unit words."""
    for pattern, replacement in _SIGNS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


_ECOG_RE = re.compile(
    r"\b(ECOG|WHO|Zubrod|performance (status|index))\b[^.;]*?"
    r"(?:(?P<low>[0-4])\s*(?:-|\u2013|to|or|,)\s*(?P<high>[0-4])\b|(?:≤|<=|\\<=|of|score)\s*(?P<max>[0-4])\b)",
    re.I,
)
_LIFE_RE = re.compile(
    r"life expectancy\s*(?:of\s*)?(?P<sign>≥|>=|\\>=|>|\\>|at least|more than|greater than|"
    r"of at least|over)?\s*(?P<n>\d{1,2})\s*(?P<unit>weeks?|months?|years?)",
    re.I,
)
_CRCL_RE = re.compile(
    r"creatinine clearance[^.;]*?(?P<sign>≥|>=|\\>=|>|\\>|at least)\s*(?P<n>\d{2,3})\s*"
    r"(?:ml|mL)\s*/\s*min",
    re.I,
)


def _ecog_meaning(high: int) -> str:
    return {
        0: _("fully active, with no limits"),
        1: _("able to do light work, even if hard physical work is not possible"),
        2: _("able to care for yourself and up and about more than half of the day"),
        3: _("able to do some self-care, in bed or a chair more than half of the day"),
        4: _("any level of activity, even in bed all day"),
    }[high]


def criterion(text: str, *, excluded: bool) -> tuple[str, str, int, dict] | None:
    """(rule key, sentence template, priority, params) for an eligibility line a rule can
    restate; None otherwise. Lower priority values come first."""
    lower = text.lower()
    if not excluded:
        match = _ECOG_RE.search(text)
        if match and not re.search(r"karnofsky", lower):
            high = int(match["high"] if match["high"] is not None else match["max"])
            scale = "ECOG" if "ecog" in lower or "zubrod" in lower else "WHO"
            params = {"meaning": _ecog_meaning(high), "scale": scale, "high": high}
            if match["low"] is None:
                template = _(
                    "Daily activity: you must be %(meaning)s (%(scale)s score %(high)d or less)."
                )
                return ("performance", template, 1, params)
            template = _(
                "Daily activity: you must be %(meaning)s (%(scale)s score %(low)d to %(high)d)."
            )
            return ("performance", template, 1, {**params, "low": int(match["low"])})
        match = _LIFE_RE.search(text)
        if match:
            n, unit = int(match["n"]), match["unit"].lower().rstrip("s")
            strict = (match["sign"] or "").strip().lower() in (
                ">",
                "\\>",
                "more than",
                "greater than",
                "over",
            )
            span = {
                "week": ngettext("%(count)d week", "%(count)d weeks", n),
                "month": ngettext("%(count)d month", "%(count)d months", n),
                "year": ngettext("%(count)d year", "%(count)d years", n),
            }[unit] % {"count": n}
            template = (
                _("Your doctors must expect you to live more than %(span)s.")
                if strict
                else _("Your doctors must expect you to live at least %(span)s.")
            )
            return ("life_expectancy", template, 4, {"span": span})
        match = _CRCL_RE.search(text)
        if match:
            strict = match["sign"] in (">", "\\>")
            template = (
                _(
                    "Your kidneys must work well enough: a kidney test (creatinine clearance) "
                    "above %(n)d mL/min."
                )
                if strict
                else _(
                    "Your kidneys must work well enough: a kidney test (creatinine "
                    "clearance) of at least %(n)d mL/min."
                )
            )
            return ("kidney", template, 5, {"n": int(match["n"])})
        if re.search(
            r"\b(histologically|cytologically|pathologically)\b.*\b(confirmed|"
            r"documented|proven)\b",
            lower,
        ):
            return (
                "confirmed_diagnosis",
                _("Your diagnosis must be confirmed by a lab test of cells or tissue."),
                2,
                {},
            )
        if re.search(r"\bmeasurable disease\b|\bmeasurable lesion", lower):
            return (
                "measurable",
                _("Your disease must be measurable on scans."),
                3,
                {},
            )
        return None
    if re.search(r"\bpregnan", lower) and not re.search(r"\bnot pregnant|non-?pregnant", lower):
        if re.search(r"breast[- ]?feed|lactat|nursing", lower):
            return ("pregnancy", _("You cannot join if you are pregnant or breastfeeding."), 2, {})
        return ("pregnancy", _("You cannot join if you are pregnant."), 2, {})
    if re.search(r"\b(brain|cns|central nervous system|leptomeningeal)\b[^.;]*metasta", lower):
        return (
            "brain_metastases",
            _(
                "Some people whose cancer has spread to the brain cannot join. The full list "
                "says which."
            ),
            3,
            {},
        )
    if re.search(r"\bhiv\b|\bhepatitis\b|\bhbv\b|\bhcv\b", lower):
        return (
            "infections",
            _("Some people with HIV or hepatitis cannot join. The full list says which."),
            4,
            {},
        )
    if re.search(
        r"\b(another|other) (clinical |interventional )?(study|studies|trial|trials)\b", lower
    ):
        return ("other_study", _("Taking part in another study may keep you out."), 5, {})
    if re.search(r"investigational (agent|drug|product|medicin)", lower):
        return (
            "investigational",
            _(
                "Having had a medicine that is still being tested may keep you out. The full "
                "list says when."
            ),
            6,
            {},
        )
    return None

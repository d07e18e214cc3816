"""Clinical trials as imported from ClinicalTrials.gov (API v2), plus fields the portal owns.

Imported fields are overwritten by every import that changes the record; portal-owned fields
(plain-language texts, first_seen_at, ...) are never touched by the importer.
"""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from trials import geo
from trials.eligibility import split_eligibility
from trials.querysets import SiteQuerySet, TrialQuerySet


class TrialStatus(models.TextChoices):
    """Overall status (official enum `Status` of API v2)."""

    RECRUITING = "RECRUITING", _("Recruiting")
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", _("Not yet recruiting")
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", _("Enrolling by invitation")
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", _("Active, not recruiting")
    SUSPENDED = "SUSPENDED", _("Suspended")
    TERMINATED = "TERMINATED", _("Terminated")
    COMPLETED = "COMPLETED", _("Completed")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")
    UNKNOWN = "UNKNOWN", _("Unknown status")
    AVAILABLE = "AVAILABLE", _("Available (expanded access)")
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE", _("No longer available")
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE", _("Temporarily not available")
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING", _("Approved for marketing")
    WITHHELD = "WITHHELD", _("Withheld")


# Statuses under which a patient can still join; the search defaults to these.
OPEN_STATUSES = (TrialStatus.RECRUITING, TrialStatus.NOT_YET_RECRUITING)

# A site's recruitment is "fresh" when its coordinator confirmed it within this many days;
# older (or never) confirmed recruiting sites show "status not recently confirmed", and trials
# with no fresh site rank lower in the search (trials.search._order_sql).
FRESH_DAYS = 90


class CoordinatorStatus(models.TextChoices):
    """What a site's coordinator says about recruitment, separate from the registry's status.

    "" is no opinion (the registry's status stands). Paused and closed override a registry
    "recruiting": the contact form stops offering the site, and "near" stops finding it.
    """

    NONE = "", _("No opinion given")
    RECRUITING = "recruiting", _("Recruiting")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


NOT_TAKING_PATIENTS = (CoordinatorStatus.PAUSED, CoordinatorStatus.CLOSED)


class SiteStatus(models.TextChoices):
    """A site's own recruitment status (official enum `RecruitmentStatus`)."""

    RECRUITING = "RECRUITING", _("Recruiting")
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", _("Not yet recruiting")
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", _("Enrolling by invitation")
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", _("Active, not recruiting")
    SUSPENDED = "SUSPENDED", _("Suspended")
    TERMINATED = "TERMINATED", _("Terminated")
    COMPLETED = "COMPLETED", _("Completed")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")
    AVAILABLE = "AVAILABLE", _("Available")
    # The registry keeps site statuses only while a study recruits.
    NOT_GIVEN = "", _("Status not given")


# Sites recruiting now come before those about to, and those the registry gives no status last.
_SITE_STATUS_ORDER = {SiteStatus.RECRUITING: 0, SiteStatus.NOT_YET_RECRUITING: 1}


class Phase(models.TextChoices):
    NA = "NA", _("Not applicable")
    EARLY_PHASE1 = "EARLY_PHASE1", _("Early phase 1")
    PHASE1 = "PHASE1", _("Phase 1")
    PHASE2 = "PHASE2", _("Phase 2")
    PHASE3 = "PHASE3", _("Phase 3")
    PHASE4 = "PHASE4", _("Phase 4")


class StudyType(models.TextChoices):
    INTERVENTIONAL = "INTERVENTIONAL", _("Interventional")
    OBSERVATIONAL = "OBSERVATIONAL", _("Observational")
    EXPANDED_ACCESS = "EXPANDED_ACCESS", _("Expanded access")


class Sex(models.TextChoices):
    ALL = "ALL", pgettext_lazy("eligible sex", "All")
    FEMALE = "FEMALE", _("Female")
    MALE = "MALE", _("Male")


class ArmGroupType(models.TextChoices):
    """What a group of the study gets (official enum `ArmGroupType`), in patients' words."""

    EXPERIMENTAL = "EXPERIMENTAL", _("Experimental")
    ACTIVE_COMPARATOR = "ACTIVE_COMPARATOR", _("Active comparator (a known treatment)")
    PLACEBO_COMPARATOR = "PLACEBO_COMPARATOR", _("Placebo comparator")
    SHAM_COMPARATOR = "SHAM_COMPARATOR", _("Sham comparator (a simulated procedure)")
    NO_INTERVENTION = "NO_INTERVENTION", _("No intervention")
    OTHER = "OTHER", pgettext_lazy("arm group type", "Other")


class InterventionType(models.TextChoices):
    """Official enum `InterventionType`."""

    DRUG = "DRUG", _("Drug")
    DEVICE = "DEVICE", _("Device")
    BIOLOGICAL = "BIOLOGICAL", _("Biological")
    PROCEDURE = "PROCEDURE", _("Procedure")
    RADIATION = "RADIATION", _("Radiation")
    BEHAVIORAL = "BEHAVIORAL", _("Behavioural")
    GENETIC = "GENETIC", _("Genetic")
    DIETARY_SUPPLEMENT = "DIETARY_SUPPLEMENT", _("Dietary supplement")
    COMBINATION_PRODUCT = "COMBINATION_PRODUCT", _("Combination product")
    DIAGNOSTIC_TEST = "DIAGNOSTIC_TEST", _("Diagnostic test")
    OTHER = "OTHER", pgettext_lazy("intervention type", "Other")


class DatePrecision(models.TextChoices):
    """Registry dates are `yyyy`, `yyyy-MM` or `yyyy-MM-dd`: keep how much of the date is known."""

    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")


class Trial(models.Model):
    # --- Identification ---------------------------------------------------------------------
    nct_id = models.CharField(max_length=11, unique=True)
    brief_title = models.TextField()
    official_title = models.TextField(blank=True)
    acronym = models.CharField(max_length=100, blank=True)
    # The sponsor's study id and other registries' ids (EudraCT, CTIS, ...), for search.
    secondary_ids = ArrayField(models.TextField(), default=list, blank=True)

    # --- Status -----------------------------------------------------------------------------
    overall_status = models.CharField(max_length=32, choices=TrialStatus.choices)
    # Only with UNKNOWN: what the status was before it went unverified for two years.
    last_known_status = models.CharField(max_length=32, choices=TrialStatus.choices, blank=True)
    why_stopped = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True)
    start_date_precision = models.CharField(max_length=5, choices=DatePrecision.choices, blank=True)
    start_date_type = models.CharField(max_length=9, blank=True)  # ACTUAL / ESTIMATED
    primary_completion_date = models.DateField(null=True, blank=True)
    primary_completion_date_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, blank=True
    )
    primary_completion_date_type = models.CharField(max_length=9, blank=True)
    completion_date = models.DateField(null=True, blank=True)
    completion_date_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, blank=True
    )
    completion_date_type = models.CharField(max_length=9, blank=True)
    # The registry's dates (studyFirstPostDateStruct, lastUpdatePostDateStruct,
    # resultsFirstPostDateStruct): not ours. first_seen_at is when this portal first imported it.
    first_posted = models.DateField(null=True, blank=True)
    last_update_posted = models.DateField(null=True, blank=True)
    results_first_posted = models.DateField(null=True, blank=True)
    # derivedSection.miscInfoModule.versionHolder: the registry release that served the record.
    retrieved_on = models.DateField(null=True, blank=True)

    # --- Design -----------------------------------------------------------------------------
    study_type = models.CharField(max_length=16, choices=StudyType.choices, blank=True)
    # A "Phase 1/2" study is two phases; observational studies have none.
    phases = ArrayField(models.CharField(max_length=12, choices=Phase.choices), default=list)
    enrollment_count = models.PositiveIntegerField(null=True, blank=True)
    enrollment_type = models.CharField(max_length=9, blank=True)
    primary_purpose = models.CharField(max_length=32, blank=True)
    allocation = models.CharField(max_length=16, blank=True)
    masking = models.CharField(max_length=16, blank=True)
    has_results = models.BooleanField(default=False)

    # --- Description ------------------------------------------------------------------------
    brief_summary = models.TextField(blank=True)  # Markdown, as registered
    detailed_description = models.TextField(blank=True)  # Markdown, as registered

    # --- Conditions and interventions ----------------------------------------------------------
    conditions = ArrayField(models.TextField(), default=list)  # as the registrant typed them
    condition_meshes = ArrayField(models.TextField(), default=list)  # MeSH descriptors (NLM)
    condition_ancestors = ArrayField(models.TextField(), default=list)  # broader MeSH terms
    keywords = ArrayField(models.TextField(), default=list)
    # [{"type": "DRUG", "name": ..., "description": ..., "other_names": [...]}, ...]
    interventions = models.JSONField(default=list, blank=True)
    intervention_meshes = ArrayField(models.TextField(), default=list)
    # [{"label", "type", "description", "interventions": [...]}, ...]
    arm_groups = models.JSONField(default=list, blank=True)
    # [{"measure", "time_frame", "description"}, ...]
    primary_outcomes = models.JSONField(default=list, blank=True)
    secondary_outcomes = models.JSONField(default=list, blank=True)  # same shape

    # --- Eligibility ------------------------------------------------------------------------
    eligibility_criteria = models.TextField(blank=True)  # Markdown, as registered
    # Split from eligibility_criteria: [{"text": ..., "children": [...]}, ...]. When the text has
    # a shape the splitter does not recognise, both stay empty and the page shows the raw text.
    inclusion_criteria = models.JSONField(default=list, blank=True)
    exclusion_criteria = models.JSONField(default=list, blank=True)
    minimum_age = models.CharField(max_length=32, blank=True)  # "18 Years" as registered
    maximum_age = models.CharField(max_length=32, blank=True)
    # Ages in days (see trials.ctgov.age_in_days), comparable across units; null = no limit.
    minimum_age_days = models.PositiveIntegerField(null=True, blank=True)
    maximum_age_days = models.PositiveIntegerField(null=True, blank=True)
    # "" when the record does not say (fields-limited records): shown as "not stated", never
    # as "All".
    sex = models.CharField(max_length=6, choices=Sex.choices, blank=True, default="")
    gender_description = models.TextField(blank=True)
    healthy_volunteers = models.BooleanField(null=True, blank=True)
    std_ages = ArrayField(models.CharField(max_length=12), default=list)

    # --- Sponsor ------------------------------------------------------------------------------
    lead_sponsor = models.CharField(max_length=300, blank=True)
    lead_sponsor_class = models.CharField(max_length=16, blank=True)
    collaborators = ArrayField(models.CharField(max_length=300), default=list)
    # [{"name", "affiliation", "role"}]: public investigators, shown on the page.
    officials = models.JSONField(default=list, blank=True)

    # --- Derived for search -----------------------------------------------------------------
    # Weighted: titles + conditions (A), interventions + keywords (B), summaries (C),
    # eligibility (D). Written by the importer in SQL (trials.importer.SEARCH_VECTOR_SQL).
    search_vector = SearchVectorField(null=True, editable=False)
    # A compact vector for ranking (titles, conditions, interventions, keywords, brief summary),
    # small enough to stay inline in the row: ranking thousands of matches for a broad word
    # ("cancer") must not decompress every trial's full text.
    rank_vector = SearchVectorField(null=True, editable=False)
    # ISO 3166 codes of the countries with a site, for the country filter.
    country_codes = ArrayField(models.CharField(max_length=2), default=list)
    # sha256 of the canonical JSON record: an unchanged record costs one comparison on re-import.
    record_hash = models.CharField(max_length=64, editable=False)

    # --- Portal-owned (staff write these; the importer never touches them) ----------------------
    plain_title = models.CharField(
        _("plain-language title"),
        max_length=300,
        blank=True,
        help_text=_("Shown instead of the registry title. Short, no jargon."),
    )
    plain_summary = models.TextField(_("plain-language summary"), blank=True)
    what_it_could_mean = models.TextField(_("what this could mean"), blank=True)
    what_it_could_lead_to = models.TextField(_("what this could lead to"), blank=True)
    what_could_go_wrong = models.TextField(_("what could go wrong"), blank=True)
    # Who wrote and who reviewed the plain-language texts, shown under them on the page.
    plain_written_by = models.CharField(
        _("plain-language texts written by"),
        max_length=200,
        blank=True,
        help_text=_("For example “TrialFinder editors”."),
    )
    plain_reviewed_by = models.CharField(
        _("reviewed by"),
        max_length=200,
        blank=True,
        help_text=_("For example “the study team”. Shown with the date of the review."),
    )
    plain_reviewed_on = models.DateField(_("reviewed on"), null=True, blank=True)
    # The language staff wrote the plain texts in: the readability formula depends on it.
    plain_language = models.CharField(
        _("language of the plain-language texts"),
        max_length=5,
        choices=settings.LANGUAGES,
        default="en",
    )

    # --- What taking part involves (portal-owned; a blank field is not shown) ------------------
    visits = models.CharField(
        _("visits"),
        max_length=300,
        blank=True,
        help_text=_("How many visits, over how long. For example “About 12 visits over 6 months”."),
    )
    visit_length = models.CharField(
        _("length of a visit"),
        max_length=300,
        blank=True,
        help_text=_("For example “2 to 3 hours; the first visit takes half a day”."),
    )
    overnight_stays = models.CharField(
        _("overnight stays"),
        max_length=300,
        blank=True,
        help_text=_("For example “None” or “2 nights in hospital after the treatment”."),
    )
    placebo_chance = models.CharField(
        _("chance of getting a placebo"),
        max_length=300,
        blank=True,
        help_text=_("For example “1 in 3” or “No placebo: everyone gets the treatment”."),
    )
    payment = models.CharField(
        _("payment or expense cover"),
        max_length=300,
        blank=True,
        help_text=_("Whether participants are paid, or which expenses are refunded."),
    )
    travel_help = models.CharField(
        _("travel help"),
        max_length=300,
        blank=True,
        help_text=_("For example “Taxi to and from the hospital paid by the study”."),
    )
    follow_up = models.CharField(
        _("follow-up"),
        max_length=300,
        blank=True,
        help_text=_("How long participants are followed after the treatment."),
    )
    # The latest "still recruiting" confirmation among its sites that are confirmed recruiting
    # (denormalised by patients.sites.site_confirm so that the search ranks with a column read).
    sites_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    last_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    change_count = models.PositiveIntegerField(default=0, editable=False)

    objects = TrialQuerySet.as_manager()

    class Meta:
        ordering = ["nct_id"]
        indexes = [
            # Full-text search: `search_vector @@ query` on every search page and alert match.
            GinIndex(fields=["search_vector"], name="trial_search_gin"),
            # The default search (trials open to patients, ~11% of the registry) scans this
            # smaller index instead.
            GinIndex(
                fields=["search_vector"],
                name="trial_search_open_gin",
                condition=models.Q(overall_status__in=["RECRUITING", "NOT_YET_RECRUITING"]),
            ),
            # The default search filters on open statuses before ranking.
            models.Index(fields=["overall_status"], name="trial_status_idx"),
            # "Sort by last update" and the Atom feed, newest first.
            models.Index(fields=["-last_changed_at"], name="trial_last_changed_idx"),
            # Country and phase filters test array containment.
            GinIndex(fields=["country_codes"], name="trial_countries_gin"),
            GinIndex(fields=["phases"], name="trial_phases_gin"),
        ]

    def __str__(self):
        return f"{self.nct_id} {self.brief_title[:60]}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("trials:detail", args=[self.nct_id])

    @property
    def title(self) -> str:
        """What a patient sees first: the staff-written title, else the registry's."""
        return self.plain_title or self.brief_title

    @property
    def repeats_summary(self) -> bool:
        """The staff summary is the registry's summary again: show it once (the seed page
        showed the same text as "Summary" and as "Overview")."""

        def norm(text: str) -> str:
            return " ".join(text.split()).casefold()

        return bool(self.plain_summary) and norm(self.plain_summary) == norm(self.brief_summary)

    @property
    def phase_labels(self) -> list[str]:
        return [str(Phase(p).label) if p in Phase.values else p for p in self.phases]

    @property
    def is_open(self) -> bool:
        return self.overall_status in OPEN_STATUSES

    @property
    def registry_url(self) -> str:
        return f"https://clinicaltrials.gov/study/{self.nct_id}"

    @property
    def eligibility_lists(self) -> tuple[list, list]:
        """(inclusion, exclusion) as the import split them; split from the criteria text when
        both are empty (older rows). Every page that shows the criteria reads them here."""
        inclusion, exclusion = self.inclusion_criteria, self.exclusion_criteria
        if not inclusion and not exclusion and self.eligibility_criteria:
            return split_eligibility(self.eligibility_criteria)
        return inclusion, exclusion

    def recruiting_sites(self, point: geo.Point | None) -> list["Site"]:
        """The sites a patient may contact (the contact form, the printable summary):
        recruiting ones first, then those not yet recruiting; within each, nearest first when
        a place is known (each with its `distance_km`), else in the registry's order."""
        sites = list(Site.objects.recruiting().filter(trial=self).order_by("position", "id"))
        for site in sites:
            site.distance_km = (
                geo.haversine_km(point.latitude, point.longitude, site.latitude, site.longitude)
                if point and site.latitude is not None
                else None
            )
        sites.sort(
            key=lambda s: (
                _SITE_STATUS_ORDER.get(s.status, 2),
                s.distance_km is None,
                s.distance_km or 0,
                s.position,
            )
        )
        return sites

    @property
    def taking_part(self) -> list[tuple[str, str]]:
        """(label, text) of each filled "what taking part involves" field, in page order."""
        return [
            (field_label(self, name), getattr(self, name))
            for name in TAKING_PART_FIELDS
            if getattr(self, name).strip()
        ]


# Portal-owned fields: staff write them in the admin, the importer never touches them.
PLAIN_TEXT_FIELDS = (
    "plain_title",
    "plain_summary",
    "what_it_could_mean",
    "what_it_could_lead_to",
    "what_could_go_wrong",
)
TAKING_PART_FIELDS = (
    "visits",
    "visit_length",
    "overnight_stays",
    "placebo_chance",
    "payment",
    "travel_help",
    "follow_up",
)
TRIAL_PORTAL_FIELDS = (
    *PLAIN_TEXT_FIELDS,
    "plain_written_by",
    "plain_reviewed_by",
    "plain_reviewed_on",
    "plain_language",
    *TAKING_PART_FIELDS,
    "sites_confirmed_at",
)


def field_label(model: models.Model | type[models.Model], name: str) -> str:
    """The verbose name of a concrete field (get_field may also return a relation)."""
    field = model._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


class Site(models.Model):
    """A study location. Kept when it leaves the registry record (removed_at) because inquiries
    and coordinators point at it."""

    # Set on the instances the trial page shows (trials.views._detail_data), never stored.
    distance_km: float | None
    contact_count: int

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="sites")
    # Stable identity across imports: facility, city, state, zip, country (+ a counter for
    # exact duplicates). See trials.ctgov.site_key.
    key = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)  # order in the registry record
    facility = models.CharField(max_length=500, blank=True)
    city = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=100, blank=True)  # as registered
    country_code = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # True when the registry gave no geoPoint and the importer placed the site at its city's
    # centre from the gazetteer (about 4% of real sites).
    location_estimated = models.BooleanField(default=False)
    status = models.CharField(max_length=32, choices=SiteStatus.choices, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    # --- Portal-owned: what the site's coordinators say (never written by the importer) ------
    coordinator_status = models.CharField(
        _("status given by the site"),
        max_length=10,
        choices=CoordinatorStatus.choices,
        blank=True,
        default=CoordinatorStatus.NONE,
    )
    status_confirmed_at = models.DateTimeField(_("status confirmed"), null=True, blank=True)
    status_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    # When the monthly "still recruiting?" email last went out (patients.sites).
    confirmation_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    response_business_days = models.PositiveSmallIntegerField(
        _("response deadline (working days)"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_(
            "A new inquiry still unanswered after this many working days is escalated: first to "
            "the site's other coordinators, a working day later to the TrialFinder team."
        ),
    )

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "position"]
        constraints = [
            # The importer upserts sites by (trial, key).
            models.UniqueConstraint(fields=["trial", "key"], name="site_unique_key"),
        ]
        indexes = [
            # "Near me": bounding-box prefilter on the sites a search counts (recruiting, or
            # without a status) before the exact distance (trials.search.NEAR_SQL).
            models.Index(
                fields=["latitude", "longitude"],
                name="site_near_latlon_idx",
                condition=models.Q(status__in=["RECRUITING", "NOT_YET_RECRUITING", ""])
                & models.Q(removed_at__isnull=True)
                & models.Q(latitude__isnull=False),
                include=["trial"],
            ),
        ]

    def __str__(self):
        return ", ".join(p for p in (self.facility, self.city, self.country) if p)

    @property
    def place(self) -> str:
        """City, state and country on one line, as a patient reads an address."""
        return ", ".join(p for p in (self.city, self.state, self.country) if p)

    @property
    def is_recruiting(self) -> bool:
        """Recruiting for the registry, and not paused or closed by its coordinator."""
        return (
            self.removed_at is None
            and self.status in OPEN_STATUSES
            and self.coordinator_status not in NOT_TAKING_PATIENTS
        )

    @property
    def stopped_by_site(self) -> bool:
        """The registry says recruiting, but the site's coordinator paused or closed it."""
        return (
            self.removed_at is None
            and self.status in OPEN_STATUSES
            and self.coordinator_status in NOT_TAKING_PATIENTS
        )

    @property
    def is_fresh(self) -> bool:
        """Its coordinator confirmed it recruiting within FRESH_DAYS."""
        return (
            self.coordinator_status == CoordinatorStatus.RECRUITING
            and self.status_confirmed_at is not None
            and self.status_confirmed_at >= timezone.now() - datetime.timedelta(days=FRESH_DAYS)
        )

    @property
    def is_stale(self) -> bool:
        """Recruiting, but not confirmed by the site within FRESH_DAYS (or ever)."""
        return self.is_recruiting and not self.is_fresh


class ContactRole(models.TextChoices):
    CONTACT = "CONTACT", _("Contact")
    PRINCIPAL_INVESTIGATOR = "PRINCIPAL_INVESTIGATOR", _("Principal investigator")
    SUB_INVESTIGATOR = "SUB_INVESTIGATOR", _("Sub-investigator")
    STUDY_CHAIR = "STUDY_CHAIR", _("Study chair")
    STUDY_DIRECTOR = "STUDY_DIRECTOR", _("Study director")


class Contact(models.Model):
    """A central (site is null) or site contact. Never printed in page HTML: patients reach
    sites through the contact form, and the portal routes the message here."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="contacts")
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="contacts"
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=300, blank=True)  # sometimes a label, not a person
    role = models.CharField(max_length=32, blank=True)
    phone = models.CharField(max_length=100, blank=True)  # free text in the registry
    phone_ext = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["trial", "site", "position"]

    def __str__(self):
        return self.name or self.role


class TrialVersion(models.Model):
    """The imported record each time it changed, with the fields that changed.

    Rows are append-only. Alerting reads new rows by id (see notifications), so a change is
    announced from this durable record even if a worker was down during the import.
    """

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()  # 1 = first import
    imported_at = models.DateTimeField(default=timezone.now)
    last_update_posted = models.DateField(null=True, blank=True)
    record = models.JSONField()
    # Dotted paths into the record ("protocolSection.statusModule.overallStatus"); empty for v1.
    changed_fields = ArrayField(models.TextField(), default=list)
    # What a patient may care about, structured: [{"kind": "status", "old": ..., "new": ...},
    # {"kind": "site_status", "site": "Rozzano, Italy", "old": ..., "new": ...}, ...].
    patient_changes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["trial", "-number"]
        constraints = [
            # One row per version number; a racing duplicate import fails instead of forking.
            models.UniqueConstraint(fields=["trial", "number"], name="version_unique_number"),
        ]

    def __str__(self):
        return f"{self.trial.nct_id} v{self.number}"


class SyncState(models.Model):
    """Cursor of the scheduled ClinicalTrials.gov sync (one row per name)."""

    name = models.CharField(max_length=50, unique=True)
    # Studies last updated on or after this date are pulled by the next run.
    cursor_date = models.DateField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return self.name


class Place(models.Model):
    """A city of the offline gazetteer (GeoNames, population 5,000+), for "near <place>"."""

    geonameid = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200)
    country_code = models.CharField(max_length=2)
    admin1 = models.CharField(max_length=20, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    population = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-population"]
        # Reference data loaded by migration 0004, never written by the app: unmanaged so that a
        # test database flush keeps it (Django flushes managed tables only).
        managed = False

    def __str__(self):
        return f"{self.name} ({self.country_code})"


class PlaceName(models.Model):
    """Every spelling of a place a patient may type ("Milano", "Milan", "Mailand"), normalised
    by trials.geo.normalise (no accents, lower case, single spaces)."""

    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="names")
    key = models.CharField(max_length=200)

    class Meta:
        managed = False  # reference data, see Place
        indexes = [
            # Exact lookup of what the patient typed.
            models.Index(fields=["key"], name="placename_key_idx"),
            # "Did you mean" for misspelt places (pg_trgm similarity).
            GinIndex(fields=["key"], name="placename_key_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self):
        return self.key


class PostalCode(models.Model):
    """Postal codes known from the sites themselves (zip + registry coordinates), rebuilt after
    each import: a patient can type "20089" or "67000" to search near it."""

    country_code = models.CharField(max_length=2)
    code = models.CharField(max_length=40)  # normalised: upper case, no spaces
    latitude = models.FloatField()
    longitude = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["country_code", "code"], name="postalcode_unique"),
        ]
        indexes = [models.Index(fields=["code"], name="postalcode_code_idx")]

    def __str__(self):
        return f"{self.code} ({self.country_code})"


class SearchTerm(models.Model):
    """Words and names of conditions and interventions that trials use, for "did you mean"
    (pg_trgm similarity). Rebuilt after each import."""

    term = models.CharField(max_length=200, unique=True)
    trial_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # similarity(term, typo) over the vocabulary.
            GinIndex(fields=["term"], name="searchterm_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self):
        return self.term


class LearnedNames(models.Model):
    """The other names of treatments learned from the records (trials.other_names), built by
    the importer once per import: learning them reads every trial's interventions, far too
    slow for the first search after an import to pay (seconds at registry scale)."""

    built_at = models.DateTimeField()
    # [[name, [other names]], ...] as registered: what an import adds the changed trials' to.
    rows = models.JSONField(default=list)
    # [[name words, [other names as words, ...]], ...]: the table other_names.table() serves.
    groups = models.JSONField()

    def __str__(self):
        return f"learned names of {self.built_at:%Y-%m-%d %H:%M}"

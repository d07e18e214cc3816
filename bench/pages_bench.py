"""Pages: requests/s of a trial page and of the search page against a trivial Django view, all
three under the same gunicorn (2 x cores + 1 sync workers), 10 keep-alive clients, one after
the other for the same number of seconds.

- trial page: `/trials/<NCT id>/`, rotating over 2,000 trials picked at random (seeded; 500
  with --quick). The page is cached until the trial changes (trials.views.trial_page_key):
  one untimed pass visits each trial once first, so the figure is the warm steady state of
  pages people have already opened; that first pass is reported as trial_page_cold_rps;
- search page: a few common searches (the search cache is warm, as in production);
- trivial: /bench/trivial, `HttpResponse("ok")` behind the whole middleware stack (bench/urls.py,
  served only under bench/trivial_settings.py).
"""

import random

from bench.common import BenchContext, print_figures, say, standalone_context
from bench.search_bench import collectstatic, get_once, gunicorn, http_load, setup_django

COMMON_SEARCHES = [
    "/trials/?q=cancer",
    "/trials/?q=breast+cancer",
    "/trials/?q=diabetes",
    "/trials/?q=lung+cancer&near=Paris&radius=100",
    "/trials/?",
]


def _trial_paths(count: int) -> list[str]:
    from trials.models import Trial

    ids = list(Trial.objects.values_list("nct_id", flat=True).order_by("id"))
    random.Random(7).shuffle(ids)
    return [f"/trials/{nct_id}/" for nct_id in ids[:count]]


def run(ctx: BenchContext) -> dict:
    setup_django(ctx)
    seconds = 8 if ctx.quick else 30
    trial_paths = _trial_paths(500 if ctx.quick else 2000)
    collectstatic(ctx)
    # The benchmark's settings add /bench/trivial to the portal's URLs (bench/urls.py).
    with gunicorn(ctx, DJANGO_SETTINGS_MODULE="bench.trivial_settings") as port:
        for path in ["/bench/trivial", trial_paths[0], *COMMON_SEARCHES]:
            status, body = get_once(port, path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        rps = {}
        say(f"pages: first visit of {len(trial_paths)} trial pages")
        first = http_load(port, trial_paths, requests=len(trial_paths))
        rps["trial_cold"] = first["count"] / first["wall"]
        for name, paths in (
            ("trivial", ["/bench/trivial"]),
            ("trial", trial_paths),
            ("search", COMMON_SEARCHES),
        ):
            http_load(port, paths, requests=0, seconds=2)  # warm-up
            say(f"pages: {name}, {seconds} s")
            result = http_load(port, paths, requests=0, seconds=seconds)
            if result["errors"]:
                raise RuntimeError(f"{name}: {result['errors']} requests failed")
            rps[name] = result["count"] / result["wall"]
    ctx.notes["pages"] = (
        f"trivial {rps['trivial']:.0f} rps, trial page {rps['trial']:.0f} "
        f"(first visits {rps['trial_cold']:.0f}), "
        f"search page {rps['search']:.0f}"
    )
    return {
        "trial_page_rps_ratio": rps["trial"] / rps["trivial"],
        "search_page_rps_ratio": rps["search"] / rps["trivial"],
        "trivial_rps": rps["trivial"],
        "trial_page_rps": rps["trial"],
        "search_page_rps": rps["search"],
        "trial_page_cold_rps": rps["trial_cold"],
    }


if __name__ == "__main__":
    print_figures(run(standalone_context()))

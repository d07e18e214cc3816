"""Draft the judged set from the clinician-written patterns (see trials/relevance/README.md).

.venv/bin/python bench/relevance_judging/judge.py --write   # rewrites trials/relevance/judged.tsv
"""

# ruff: noqa
import json, glob, re, sys, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from concepts import C
from queries import Q

ROOT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "trials", "demo_data", ""
)
T = {}
for f in sorted(glob.glob(ROOT + "ctgov/*.json") + glob.glob(ROOT + "reconstructed/*.json")):
    d = json.load(open(f))
    p = d.get("protocolSection", {})
    idm = p.get("identificationModule", {})
    cm = p.get("conditionsModule", {})
    sc = p.get("sponsorCollaboratorsModule", {})
    aim = p.get("armsInterventionsModule", {})
    ints = aim.get("interventions", [])
    arms = aim.get("armGroups", [])
    exp = set()
    for a in arms:
        if a.get("type") in ("EXPERIMENTAL", None, "OTHER"):
            exp.update(a.get("interventionNames", []))
    T[idm["nctId"]] = dict(
        title=idm.get("briefTitle", "") + " || " + idm.get("officialTitle", ""),
        cond=" ; ".join(cm.get("conditions", [])),
        mesh=" ; ".join(
            m["term"]
            for m in d.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
        ),
        ints=ints,
        exp=exp,
        arms=bool(arms),
        kw=" ; ".join(cm.get("keywords", [])),
        sponsor=sc.get("leadSponsor", {}).get("name", ""),
        collabs=" ; ".join(c.get("name", "") for c in sc.get("collaborators", [])),
        acronym=idm.get("acronym", ""),
    )
ORGANS = [
    "hnc",
    "breast",
    "lung",
    "myeloma",
    "lymphoma",
    "leukemia",
    "cervix",
    "endometrial",
    "ovarian",
    "prostate",
    "gastric",
    "gallbladder",
    "biliary",
    "colorectal",
    "brain",
    "melanoma",
    "pancreas",
    "esophagus",
    "kidneycancer",
    "bladder",
    "sarcoma",
    "hepatocellular",
]


def ct(t):
    return (t["cond"] + " ; " + t["title"]).lower()


def basket(t):
    return sum(1 for o in ORGANS if re.search(C[o][0], t["cond"].lower())) >= 3


def concept(key, t):
    best = 0
    for k in key.split("|"):
        g2, g1 = C[k]
        if re.search(g2, ct(t), re.I):
            g = 1 if (basket(t) and k in ORGANS + ["mouth", "throat"]) else 2
        elif re.search(g2, t["mesh"], re.I) or (
            g1 and re.search(g1, (ct(t) + " " + t["mesh"]), re.I)
        ):
            g = 1
        else:
            g = 0
        best = max(best, g)
    return best


def interv(rx, t):
    rx = re.compile(rx, re.I)
    if rx.search(t["title"]):
        return 2
    g = 0
    for i in t["ints"]:
        names = [i.get("name", "")] + i.get("otherNames", [])
        if any(rx.search(n) for n in names):
            label = f"{i.get('type', '').title()}: {i.get('name', '')}"
            inexp = (not t["arms"]) or any(i.get("name", "") in e for e in t["exp"])
            g = max(g, 2 if inexp else 1)
    return g


def grade(spec, nct, t):
    parts = spec.split("&")
    gs = []
    for p in parts:
        kind, arg = p.split(":", 1)
        if kind == "c":
            gs.append(concept(arg, t))
        elif kind == "i":
            gs.append(interv(arg, t))
        elif kind == "n":
            gs.append(2 if nct == arg else 0)
        elif kind == "a":
            gs.append(2 if (re.search(arg, t["acronym"], re.I)) else 0)
        elif kind == "s":
            gs.append(
                2
                if re.search(arg, t["sponsor"], re.I)
                else (1 if re.search(arg, t["collabs"], re.I) else 0)
            )
    if len(gs) == 1:
        return gs[0]
    # a condition and a treatment (or a sponsor and a treatment): only trials with both
    # condition & intervention: both -> 2 (or min), condition alone -> 1
    if all(gs):
        return min(2, max(min(gs), 1)) if min(gs) >= 1 else 0
    return 0


out = []
for lang, cls, q, spec in Q:
    rel = {n: grade(spec, n, t) for n, t in T.items()}
    for n, t in T.items():
        # read by hand: the title says oral cancers only
        if spec == "c:throat" and n == "NCT06737822":
            rel[n] = 0
        # type 1 diabetes is not type 2
        if (
            spec == "c:t2d"
            and re.search(C["t1d"][0], ct(t) + t["mesh"], re.I)
            and not re.search(C["t2d"][0], ct(t) + t["mesh"], re.I)
        ):
            rel[n] = 0
    rel = {n: g for n, g in rel.items() if g}
    out.append((lang, cls, q, spec, rel))
if __name__ == "__main__" and "--write" not in sys.argv:
    for lang, cls, q, spec, rel in out:
        n2 = sum(1 for g in rel.values() if g == 2)
        n1 = len(rel) - n2
        print(f"{lang} {cls:12} {q!r:45} {spec:30} 2:{n2:3} 1:{n1:3}")


def write(path):
    with open(path, "w") as f:
        f.write("query_id\tlanguage\tclass\tquery\tnct_id\tgrade\n")
        for i, (lang, cls, q, spec, rel) in enumerate(out, 1):
            qid = f"{lang}{i:03d}"
            for n, g in sorted(rel.items(), key=lambda x: (-x[1], x[0])):
                f.write(f"{qid}\t{lang}\t{cls}\t{q}\t{n}\t{g}\n")


if __name__ == "__main__" and "--write" in sys.argv:
    write(
        os.path.join(
            os.path.dirname(os.path.abspath(__file__)),
            "..",
            "..",
            "trials",
            "relevance",
            "judged.tsv",
        )
    )

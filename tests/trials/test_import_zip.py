"""Reading the registry's bulk zip member by member, without its central directory."""

import io
import json
import zipfile

import pytest

from tests.conftest import DEMO_DATA
from trials.sources import BadRecord, SourceError, count_source, iter_source, iter_zip_members

RECORDS = ("NCT06129864", "NCT06256588", "NCT04892173")


def _record(nct_id: str, new_id: str) -> bytes:
    record = json.loads((DEMO_DATA / f"{nct_id}.json").read_text())
    record["protocolSection"]["identificationModule"]["nctId"] = new_id
    return json.dumps(record).encode()


def _members():
    return [
        (f"ctg-studies/{nct}.json", _record(nct, nct.replace("NCT0", "NCT9"))) for nct in RECORDS
    ]


def test_it_reads_every_json_member_in_order_and_skips_the_rest(tmp_path):
    path = tmp_path / "bulk.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "not a study")
        archive.mkdir("ctg-studies")
        for name, data in _members():
            archive.writestr(name, data)
    members = list(iter_zip_members(path))
    assert [label for label, _ in members] == [f"bulk.zip:{name}" for name, _ in _members()]
    assert [data for _, data in members] == [data for _, data in _members()]
    assert count_source(path) == 5  # the end record counts every entry: enough for an ETA


def test_it_reads_a_streamed_zip_whose_sizes_follow_the_data(tmp_path):
    # Written to a pipe, zipfile puts each member's sizes in a data descriptor after the data.
    buffer = io.BytesIO()

    class Unseekable(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            return buffer.write(data)

    with zipfile.ZipFile(Unseekable(), "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _members():
            archive.writestr(name, data)
    path = tmp_path / "streamed.zip"
    path.write_bytes(buffer.getvalue())
    records = list(iter_source(path))
    assert [r["protocolSection"]["identificationModule"]["nctId"] for _, r in records] == [
        "NCT96129864",
        "NCT96256588",
        "NCT94892173",
    ]


def test_a_corrupt_member_is_one_bad_record_and_the_others_are_kept(tmp_path):
    path = tmp_path / "bulk.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in _members():
            archive.writestr(name, data)
    raw = bytearray(path.read_bytes())
    second = raw.index(b"NCT96256588")
    raw[second : second + 11] = b"XXXXXXXXXXX"  # the CRC no longer matches
    path.write_bytes(bytes(raw))
    records = list(iter_source(path))
    assert len(records) == 3
    assert isinstance(records[1][1], BadRecord) and "CRC" in records[1][1].message
    assert not isinstance(records[0][1], BadRecord) and not isinstance(records[2][1], BadRecord)


def test_a_zip_without_studies_is_refused(tmp_path):
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "nothing here")
    with pytest.raises(SourceError, match=r"holds no \.json files"):
        list(iter_source(path))


def test_a_page_inside_the_zip_is_read_study_by_study(tmp_path):
    path = tmp_path / "pages.zip"
    page = {"studies": [json.loads(data) for _, data in _members()], "nextPageToken": "x"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("page-1.json", json.dumps(page))
    assert len(list(iter_source(path))) == 3


@pytest.mark.django_db
def test_a_record_the_database_refuses_fails_alone_and_its_batch_is_kept(tmp_path):
    from django.core.management import call_command

    from trials.models import Trial

    good = json.loads(_record("NCT06129864", "NCT96129864"))
    bad = json.loads(_record("NCT06256588", "NCT96256588"))
    # Longer than the column (varchar 300): only PostgreSQL says no, inside the COPY.
    bad["protocolSection"]["sponsorCollaboratorsModule"]["collaborators"] = [{"name": "x" * 400}]
    path = tmp_path / "bulk.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", json.dumps(bad))
        archive.writestr("b.json", json.dumps(good))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit):
        call_command("import_ctgov", str(path), stdout=out, stderr=err)
    assert out.getvalue().strip().endswith("created 1, updated 0, unchanged 0, failed 1")
    assert "NCT96256588: database refused it" in err.getvalue()
    assert Trial.objects.filter(nct_id="NCT96129864").exists()
    assert not Trial.objects.filter(nct_id="NCT96256588").exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_write_everything_and_a_repeated_study_in_order(tmp_path):
    from trials.importer import Importer
    from trials.models import Trial, TrialVersion

    folder = tmp_path / "records"
    folder.mkdir()
    for i, (nct, _) in enumerate(_members()):
        (folder / f"{i}.json").write_bytes(_record(nct.split("/")[1][:-5], f"NCT9000000{i}"))
    again = json.loads(_record("NCT06129864", "NCT90000000"))
    again["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    (folder / "9.json").write_text(json.dumps(again))

    stats = Importer(batch_size=1, writers=2).run(iter_source(folder))

    assert stats.summary() == "created 3, updated 1, unchanged 0, failed 0"
    assert Trial.objects.get(nct_id="NCT90000000").overall_status == "COMPLETED"
    assert TrialVersion.objects.filter(trial__nct_id__startswith="NCT9000000").count() == 4

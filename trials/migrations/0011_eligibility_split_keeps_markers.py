"""Re-split the stored eligibility lists: items now keep their numbers and letters ("1.",
"b)"), and every Markdown escape is resolved (`\\&` was not). Record hashes are unchanged, so
a re-import would skip the trials."""

from django.db import migrations

BATCH = 2000


def resplit(apps, schema_editor):
    from trials.eligibility import split_eligibility  # a pure function of the text

    Trial = apps.get_model("trials", "Trial")
    rows = Trial.objects.exclude(eligibility_criteria="").only("id", "eligibility_criteria")
    batch = []
    for trial in rows.iterator(chunk_size=BATCH):
        trial.inclusion_criteria, trial.exclusion_criteria = split_eligibility(
            trial.eligibility_criteria
        )
        batch.append(trial)
        if len(batch) >= BATCH:
            Trial.objects.bulk_update(batch, ["inclusion_criteria", "exclusion_criteria"])
            batch = []
    if batch:
        Trial.objects.bulk_update(batch, ["inclusion_criteria", "exclusion_criteria"])


class Migration(migrations.Migration):
    dependencies = [("trials", "0010_registry_fidelity_outcomes_dates_sex")]

    operations = [migrations.RunPython(resplit, migrations.RunPython.noop, elidable=True)]

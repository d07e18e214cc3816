import notifications.models
from django.db import migrations, models


class Migration(migrations.Migration):
    """A random key per subscriber, inside every alert-management link. Existing subscribers
    each get their own (a callable default would give them all the same one); links sent
    before this carried the id alone and stop working."""

    dependencies = [
        ("notifications", "0003_saved_search_language_and_nct_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscriber",
            name="link_key",
            field=models.CharField(default="", editable=False, max_length=32),
        ),
        # 122 random bits each, in one statement however many subscribers there are.
        migrations.RunSQL(
            "UPDATE notifications_subscriber SET link_key = replace(gen_random_uuid()::text, '-', '')",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="subscriber",
            name="link_key",
            field=models.CharField(
                default=notifications.models.new_link_key, editable=False, max_length=32
            ),
        ),
    ]

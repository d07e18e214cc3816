"""The "Coordinators" group: staff who handle their sites' inquiries in the admin.

Which inquiries they see is decided by their sites (patients.SiteCoordinator), not by the group:
the group only lets them open the admin pages at all.
"""

from django.db import migrations

GROUP = "Coordinators"
PERMISSIONS = [
    ("patients", "inquiry", ["view", "change"]),
    ("patients", "prescreenquestion", ["view", "add", "change", "delete"]),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran: create ours now.
    app_config = apps.get_app_config("patients")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, actions in PERMISSIONS:
        for action in actions:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_inquiries"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]

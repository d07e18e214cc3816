"""The coordinators' group, for code that runs after migrations (demo set-up, tests).

Migration 0002 creates it; a test database flush (transactional tests) empties it, so this
re-creates it the same way when needed.
"""

from django.contrib.auth.models import Group, Permission

COORDINATORS = "Coordinators"
PERMISSIONS = {
    "inquiry": ["view", "change"],
    "prescreenquestion": ["view", "add", "change", "delete"],
    "coordinatedsite": ["view", "change"],
}


def coordinators_group() -> Group:
    group, _ = Group.objects.get_or_create(name=COORDINATORS)
    wanted = [f"{action}_{model}" for model, actions in PERMISSIONS.items() for action in actions]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="patients", codename__in=wanted)
    )
    return group


def make_coordinator(user, *sites) -> None:
    """Staff, in the group, linked to `sites`."""
    from patients.models import SiteCoordinator

    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(coordinators_group())
    for site in sites:
        SiteCoordinator.objects.get_or_create(user=user, site=site)

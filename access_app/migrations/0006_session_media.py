# Written by hand: a data migration (issue 19, decision 0015).

from django.db import migrations

WEBRTC, RELAY = "webrtc", "relay"


def _media(transport):
    """What ``agentfield.contract.media`` gives a definition that declares no media."""
    return RELAY if transport == WEBRTC else ""


def add_media(apps, schema_editor):
    """Existing session targets relay their media, as they always did: say so in their
    definition, their reach and their approved reach alike, so upgrading puts nothing up
    for review again. The UPDATEs fire the access-version triggers (decision 0014), which
    a data migration leaves in place."""
    Target = apps.get_model("access_app", "Target")
    for target in Target.objects.filter(kind="session"):
        definition = dict(target.definition or {})
        definition.setdefault("media", _media(definition.get("transport")))
        reach = dict(target.reach or {})
        if reach:
            reach.setdefault("media", _media(reach.get("transport")))
        approved = target.approved_reach
        if approved is not None:
            approved = {**approved, "media": approved.get("media", _media(approved.get("transport")))}
        Target.objects.filter(pk=target.pk).update(
            definition=definition, reach=reach, approved_reach=approved
        )


def remove_media(apps, schema_editor):
    """Back to reaches without media (what 0005's code compares), approvals kept."""
    Target = apps.get_model("access_app", "Target")
    for target in Target.objects.filter(kind="session"):
        fields = {}
        for name in ("definition", "reach", "approved_reach"):
            value = getattr(target, name)
            if isinstance(value, dict) and "media" in value:
                fields[name] = {k: v for k, v in value.items() if k != "media"}
        if fields:
            Target.objects.filter(pk=target.pk).update(**fields)


class Migration(migrations.Migration):

    dependencies = [
        ("access_app", "0005_node_ownership_reapproval"),
    ]

    operations = [
        migrations.RunPython(add_media, remove_media),
    ]

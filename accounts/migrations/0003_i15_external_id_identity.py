"""The directory's id becomes the identity: external_id unique (NULL for local accounts),
emails stored NFKC + casefold, both compared binary on MySQL (see accounts.models)."""

import unicodedata

from django.db import migrations

import accounts.models


def _normalise(email):
    return unicodedata.normalize("NFKC", (email or "").strip()).casefold()


def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(external_id="").update(external_id=None)
    # One directory id, one user: where several rows claim an id, the most recently seen keeps it
    # (the others stay, unbound, for an operator to link; they can no longer be signed in to by it).
    seen = set()
    for user in User.objects.exclude(external_id=None).order_by("external_id", "-last_seen_at", "-pk"):
        if user.external_id in seen:
            User.objects.filter(pk=user.pk).update(external_id=None)
        seen.add(user.external_id)
    taken = set(User.objects.values_list("email", flat=True))
    for pk, email in User.objects.values_list("pk", "email"):
        normal = _normalise(email)
        if normal != email and normal not in taken:  # a collision is left as it is, for an operator
            User.objects.filter(pk=pk).update(email=normal)
            taken.add(normal)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_session_refresh_and_login_failures'),
    ]

    operations = [
        migrations.AlterModelTableComment(
            name='user',
            table_comment='People who use Tool OCR; the directory id (external_id) is the identity',
        ),
        migrations.AlterField(
            model_name='user',
            name='external_id',
            field=accounts.models.IdentityCharField(blank=True, null=True, db_index=True, max_length=255,
                                                    db_comment='userInfo.id from the company API'),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='user',
            name='email',
            field=accounts.models.IdentityEmailField(db_comment='Stored normalised (NFKC + casefold), compared binary; may change', max_length=254, unique=True),
        ),
        migrations.AlterField(
            model_name='user',
            name='external_id',
            field=accounts.models.IdentityCharField(blank=True, db_comment='userInfo.id from the company API: the identity; NULL for local accounts', max_length=255, null=True, unique=True),
        ),
    ]

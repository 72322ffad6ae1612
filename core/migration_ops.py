"""Operations that migrations of several apps share."""

from django.db import migrations


def move_content_types(old_app: str, new_app: str, models: tuple[str, ...]) -> migrations.RunPython:
    """Give models that moved between apps their content types (and so their permissions and admin history).

    A model that changes app keeps its table (SeparateDatabaseAndState, or a replacing
    migration), but Django would make a second content type under the new app label and leave
    the old one, with the permissions granted on it, behind. Moving the old row keeps them; a
    database where the new row exists already (or none of them: a new one) is left alone.
    """

    def move(apps, schema_editor, source, target):
        content_type = apps.get_model("contenttypes", "ContentType")
        rows = content_type.objects.using(schema_editor.connection.alias)
        for model in models:
            if not rows.filter(app_label=target, model=model).exists():
                rows.filter(app_label=source, model=model).update(app_label=target)
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()  # this process may have cached the old labels

    return migrations.RunPython(lambda apps, editor: move(apps, editor, old_app, new_app),
                                lambda apps, editor: move(apps, editor, new_app, old_app))

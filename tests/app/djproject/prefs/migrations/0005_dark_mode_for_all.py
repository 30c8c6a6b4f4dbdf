"""The bad data migration: meant for the beta testers, it switches every
user to the dark theme with marketing on, overwrites one JSON key of every
user's settings, and deletes the beta flags."""
from django.db import migrations

import tidemark_django


def forwards(apps, schema_editor):
    Preference = apps.get_model("prefs", "Preference")
    FeatureFlag = apps.get_model("prefs", "FeatureFlag")
    with tidemark_django.context(using=schema_editor.connection.alias, user="deploy-bot",
                                 reason="migration 0005_dark_mode_for_all"):
        Preference.objects.update(theme="dark", marketing=True)
        with schema_editor.connection.cursor() as cur:
            cur.execute("UPDATE prefs_preference "
                        "SET settings = jsonb_set(settings, '{digest}', '\"never\"')")
        FeatureFlag.objects.filter(name__startswith="beta").delete()


class Migration(migrations.Migration):
    dependencies = [("prefs", "0004_rename_display_name")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

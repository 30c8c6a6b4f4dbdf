from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("prefs", "0003_preference_language")]
    operations = [
        migrations.RenameField(model_name="account", old_name="display_name",
                               new_name="full_name"),
    ]

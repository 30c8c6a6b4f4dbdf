from django.db import migrations, models


class Migration(migrations.Migration):
    # ADD COLUMN ... DEFAULT 'en' NOT NULL, then DROP DEFAULT (Django's way)
    dependencies = [("prefs", "0002_featureflag")]
    operations = [
        migrations.AddField(model_name="preference", name="language",
                            field=models.CharField(default="en", max_length=8)),
    ]

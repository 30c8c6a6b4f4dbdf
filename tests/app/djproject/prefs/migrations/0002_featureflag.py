from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("prefs", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="FeatureFlag",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50, unique=True)),
                ("enabled", models.BooleanField(default=False)),
            ],
        ),
    ]

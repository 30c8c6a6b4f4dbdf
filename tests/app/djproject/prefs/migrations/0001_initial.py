from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Account",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),
                ("email", models.EmailField(max_length=254, unique=True)),
                ("display_name", models.CharField(max_length=100)),
            ],
        ),
        migrations.CreateModel(
            name="Preference",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),
                ("theme", models.CharField(default="light", max_length=20)),
                ("marketing", models.BooleanField(default=False)),
                ("settings", models.JSONField(default=dict)),
                ("account", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, to="prefs.account")),
            ],
        ),
    ]

"""The app's own queries (ORM), printed so that two databases can be
compared; --write also makes a new account, as the app would (a rebuilt
database must take it: its sequences set past the rows)."""
from django.core.management.base import BaseCommand
from django.db.models import Count

from prefs.models import Account, FeatureFlag, Preference


class Command(BaseCommand):
    help = "run the app's queries"

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true")

    def handle(self, write, **_):
        out = self.stdout.write
        out(f"accounts {Account.objects.count()}")
        for row in Preference.objects.values("theme").annotate(n=Count("id")).order_by("theme"):
            out(f"theme {row['theme']} {row['n']}")
        out(f"marketing {Preference.objects.filter(marketing=True).count()}")
        out(f"digest-daily {Preference.objects.filter(settings__digest='daily').count()}")
        out(f"notifications-off {Preference.objects.filter(settings__notifications='off').count()}")
        out(f"french {Preference.objects.filter(language='fr').count()}")
        for p in Preference.objects.select_related("account").order_by("id")[:5]:
            out(f"pref {p.id} {p.account.full_name} {p.account.email} {p.theme} {p.language}")
        out("flags " + ",".join(FeatureFlag.objects.filter(enabled=True)
                                .order_by("name").values_list("name", flat=True)))
        if write:
            a = Account.objects.create(email="new@example.com", full_name="New")
            Preference.objects.create(account=a, settings={"digest": "daily"})
            FeatureFlag.objects.create(name="staging-only", enabled=True)
            out(f"wrote account {a.id}")

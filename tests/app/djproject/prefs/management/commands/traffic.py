"""Requests through the whole middleware stack (django.test.Client), as the
app's users make them; each carries an X-Request-Id."""
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.test import Client


class Command(BaseCommand):
    help = "app traffic of one phase"

    def add_arguments(self, parser):
        parser.add_argument("phase", choices=["early", "flags", "late", "after"])

    def post(self, client, url, rid, **data):
        r = client.post(url, data, HTTP_X_REQUEST_ID=rid)
        if r.status_code != 200:
            raise CommandError(f"{url}: {r.status_code}")
        self.n += 1

    def handle(self, phase, **_):
        self.n = 0
        alice, bob = Client(), Client(raise_request_exception=False)
        alice.force_login(User.objects.get(username="alice"))
        bob.force_login(User.objects.get(username="bob"))
        if phase == "early":  # at 0001: themes only
            for pk in range(1, 41):
                self.post(alice, f"/prefs/{pk}/theme", f"early-{pk}", theme="green")
        elif phase == "flags":  # at 0002: the new table gets rows
            for i in range(30):
                name = f"beta-{i}" if i % 2 else f"feature-{i}"
                self.post(bob, f"/flags/{name}", f"flag-{i}", enabled="1" if i % 3 else "0")
        elif phase == "late":  # after 0004: every kind of write
            for pk in range(20, 60):
                self.post(alice, f"/prefs/{pk}/language", f"lang-{pk}", language="fr")
                self.post(alice, f"/prefs/{pk}/settings", f"set-{pk}", key="notifications",
                          value="off")
            self.post(alice, "/prefs/7/theme", "req-7f3a", theme="solarized")
            # a request that fails halfway: nothing of it may be committed
            r = bob.post("/prefs/8/fail", {}, HTTP_X_REQUEST_ID="fail-8")
            if r.status_code != 500:
                raise CommandError(f"the failing request answered {r.status_code}")
        else:  # after the bad migration: legitimate changes to other columns and keys
            for pk in range(50, 90):
                self.post(alice, f"/prefs/{pk}/language", f"after-lang-{pk}", language="de")
                self.post(alice, f"/prefs/{pk}/settings", f"after-set-{pk}",
                          key="notifications", value="on")
            self.post(bob, "/flags/feature-4", "after-flag", enabled="1")
        self.stdout.write(f"traffic {phase}: {self.n} requests")

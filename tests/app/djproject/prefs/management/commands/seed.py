from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = ("accounts with their preferences, in SQL (it runs at the first migration, "
            "before the models' later fields exist), and the users the traffic logs in as")

    def add_arguments(self, parser):
        parser.add_argument("count", type=int)

    def handle(self, count, **_):
        for name in ("alice", "bob"):
            User.objects.get_or_create(username=name)
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO prefs_account (email, display_name) "
                "SELECT 'user' || g || '@example.com', 'User ' || g "
                "FROM generate_series(1, %s) g", [count])
            cur.execute(
                "INSERT INTO prefs_preference (account_id, theme, marketing, settings) "
                "SELECT id, CASE WHEN id % 3 = 0 THEN 'blue' ELSE 'light' END, id % 2 = 0, "
                "jsonb_build_object('digest', CASE WHEN id % 2 = 1 THEN 'daily' "
                "ELSE 'weekly' END, 'notifications', true) FROM prefs_account ORDER BY id")
        self.stdout.write(f"seed: {count} accounts")

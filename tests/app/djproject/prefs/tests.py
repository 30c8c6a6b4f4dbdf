"""manage.py test: the app's tests pass with the context middleware, and the
middleware changes no transaction behaviour."""
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from prefs.models import Account, Preference


def make_pref(pk=1):
    a = Account.objects.create(id=pk, email=f"t{pk}@example.com", full_name="T")
    return Preference.objects.create(id=pk, account=a, settings={"digest": "daily"})


class InTestTransaction(TestCase):
    """TestCase wraps each test in a transaction: the label goes inside it."""

    def test_write_is_labelled_once_per_transaction(self):
        make_pref()
        c = Client()
        c.force_login(User.objects.create(username="carol"))
        with CaptureQueriesContext(connection) as q:
            self.assertEqual(c.post("/prefs/1/theme", {"theme": "dark"}).status_code, 200)
            c.post("/prefs/1/settings", {"key": "digest", "value": "weekly"})
        labels = [x["sql"] for x in q.captured_queries if "pg_logical_emit_message" in x["sql"]]
        writes = [x["sql"] for x in q.captured_queries if x["sql"].startswith("UPDATE")]
        self.assertTrue(labels and writes)
        self.assertIn('"user": "carol"', labels[0])
        p = Preference.objects.get(pk=1)
        self.assertEqual((p.theme, p.settings["digest"]), ("dark", "weekly"))


class Commits(TransactionTestCase):
    """Real commits and rollbacks, as in production."""

    def test_failed_request_commits_nothing(self):
        make_pref()
        r = Client(raise_request_exception=False).post("/prefs/1/fail")
        self.assertEqual(r.status_code, 500)
        self.assertEqual(Preference.objects.get(pk=1).theme, "light")

    def test_autocommit_write_commits_with_its_label(self):
        make_pref()
        with CaptureQueriesContext(connection) as q:
            Client().post("/prefs/1/language", {"language": "fr"})
        self.assertFalse(connection.in_atomic_block)
        self.assertEqual(Preference.objects.get(pk=1).language, "fr")
        sqls = [x["sql"] for x in q.captured_queries]
        label = next(i for i, s in enumerate(sqls) if "pg_logical_emit_message" in s)
        self.assertTrue(sqls[label + 1].startswith("UPDATE"))

# A small Django project for tidemark's application test (tests/app): the
# database comes from the environment (PGHOST, PGPORT, PGUSER of the
# throwaway cluster; APP_DB the database name).
import os
import sys

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The request-context module as the README ships it.
sys.path.insert(0, os.path.join(BASE_DIR, "..", "..", "..", "scripts", "django"))

SECRET_KEY = "tidemark-app-test"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "prefs",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tidemark_django.TidemarkContextMiddleware",
]
ROOT_URLCONF = "djproject.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("APP_DB", "app"),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "USER": os.environ.get("PGUSER", ""),
        # The app's own choice, not the middleware's: each view in one
        # transaction (views marked non_atomic_requests write in autocommit).
        "ATOMIC_REQUESTS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"

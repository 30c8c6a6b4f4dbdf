from django.apps import AppConfig


class PrefsConfig(AppConfig):
    name = "prefs"

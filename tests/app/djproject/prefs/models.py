from django.db import models


class Account(models.Model):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=100)  # display_name before 0004


class Preference(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE)
    theme = models.CharField(max_length=20, default="light")
    marketing = models.BooleanField(default=False)
    settings = models.JSONField(default=dict)
    language = models.CharField(max_length=8, default="en")  # 0003


class FeatureFlag(models.Model):  # 0002
    name = models.CharField(max_length=50, unique=True)
    enabled = models.BooleanField(default=False)

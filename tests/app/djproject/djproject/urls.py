from django.urls import path

from prefs import views

urlpatterns = [
    path("prefs/<int:pk>/theme", views.set_theme),
    path("prefs/<int:pk>/language", views.set_language),
    path("prefs/<int:pk>/settings", views.set_setting),
    path("prefs/<int:pk>/fail", views.fail_halfway),
    path("flags/<str:name>", views.set_flag),
]

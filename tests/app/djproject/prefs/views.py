from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from prefs.models import FeatureFlag, Preference


@csrf_exempt
@require_POST
def set_theme(request, pk):
    Preference.objects.filter(pk=pk).update(theme=request.POST["theme"])
    return HttpResponse("ok")


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def set_language(request, pk):
    # autocommit: the update is its own transaction
    Preference.objects.filter(pk=pk).update(language=request.POST["language"])
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def set_setting(request, pk):
    p = Preference.objects.select_for_update().get(pk=pk)
    p.settings[request.POST["key"]] = request.POST["value"]
    p.save(update_fields=["settings"])
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def fail_halfway(request, pk):
    # writes, then fails: ATOMIC_REQUESTS rolls the write back
    Preference.objects.filter(pk=pk).update(theme="half-written")
    raise RuntimeError("failed halfway")


@csrf_exempt
@require_POST
def set_flag(request, name):
    if "enabled" not in request.POST:
        return HttpResponseBadRequest("enabled?")
    FeatureFlag.objects.update_or_create(
        name=name, defaults={"enabled": request.POST["enabled"] == "1"})
    return HttpResponse("ok")

"""The app's URLs plus two views that do nothing, for benchmarks/load.py's framework floor.

Served only by the benchmark's gunicorn (benchmarks/load_settings.py); never part of the app.
Both go through the whole middleware stack: the bare one without a session, the signed-in one with
the session, the user and the session guard's token check, exactly as every page does.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from tool_ocr import urls as app_urls


def bare(request):
    return HttpResponse("ok\n", content_type="text/plain")


@login_required
def signed_in(request):
    return HttpResponse("ok\n", content_type="text/plain")


urlpatterns = [path("__load__/bare", bare), path("__load__/signed-in", signed_in), *app_urls.urlpatterns]
handler400, handler403 = app_urls.handler400, app_urls.handler403
handler404, handler500 = app_urls.handler404, app_urls.handler500

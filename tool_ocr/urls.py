from django.contrib import admin
from django.urls import include, path

from tool_ocr import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("", include("tasks.urls")),
]

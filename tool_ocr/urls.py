from django.contrib import admin
from django.urls import include, path

from accounts.views import admin_login_redirect
from tool_ocr import health, metrics, security

urlpatterns = [
    path("admin/login/", admin_login_redirect),  # one login page, with the brute-force limit
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path(".well-known/security.txt", security.security_txt, name="security-txt"),
    path("", include("accounts.urls")),
    path("", include("tasks.urls")),
    path("api/v1/", include("tool_ocr.api")),
    path("", include("tasks.history_urls")),
]

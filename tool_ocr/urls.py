from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.web.views import admin_login_redirect
from ops import health, metrics, security

urlpatterns = [
    path("admin/login/", admin_login_redirect),  # one login page, with the brute-force limit
    # The audit log's admin page moved with its model to core; links to the old list (and its filters) still work.
    path("admin/tasks/auditlog/", RedirectView.as_view(pattern_name="admin:core_auditlog_changelist",
                                                                 query_string=True)),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path(".well-known/security.txt", security.security_txt, name="security-txt"),
    path("", include("accounts.web.urls")),
    path("", include("tasks.web.urls")),
    path("api/v1/", include("tool_ocr.api")),
    path("", include("tasks.web.history_urls")),
]

# Branded error pages with the header and a way back (ops/error_views.py).
handler400 = "ops.error_views.bad_request"
handler403 = "ops.error_views.permission_denied"
handler404 = "ops.error_views.page_not_found"
handler500 = "ops.error_views.server_error"

from django.urls import path

from tasks.web import history_views as views

app_name = "history"

urlpatterns = [
    path("history/", views.history_page, name="list"),
    path("history/stats/", views.stats_page, name="stats"),
    path("history/export/", views.export_view, name="export"),
    path("history/bulk/", views.bulk_action, name="bulk"),
    path("history/tasks/<uuid:task_id>/", views.task_modal, name="task"),
    path("history/tasks/<uuid:task_id>/row/", views.task_row, name="row"),
    path("history/tasks/<uuid:task_id>/<str:action>/", views.task_action, name="action"),
    path("nav/badge/", views.active_badge, name="badge"),
    path("nav/user-stats/", views.user_brief_stats, name="user-stats"),
]

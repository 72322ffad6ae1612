from django.urls import path

from tasks.web import page_view
from tasks.web import views

app_name = "tasks"

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/<uuid:task_id>/", views.task_detail, name="detail"),
    path("tasks/<uuid:task_id>/retry/", views.task_retry, name="retry"),
    path("tasks/<uuid:task_id>/cancel/", views.task_cancel, name="cancel"),
    path("tasks/<uuid:task_id>/delete/", views.task_delete, name="delete"),
    path("tasks/<uuid:task_id>/pages/<int:number>/image", page_view.page_image, name="page-image"),
]

from django.urls import path

from accounts.web import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/tokens/", views.tokens_view, name="account-tokens"),
    path("account/tokens/<uuid:token_id>/revoke/", views.token_revoke_view, name="account-token-revoke"),
]

"""Sign-in through the bundled dev auth API over real HTTP."""

import pytest

from accounts.models import TokenSession, User


@pytest.mark.django_db
def test_sign_in_creates_the_user_and_shows_the_display_name(client):
    response = client.post("/login/", {"username": "Chen.MeiLing@example.com", "password": "demo-password"})
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="chen.meiling@example.com")
    assert user.display_name == "陳美玲" and user.job_title == "品質工程師"
    page = client.get("/")
    assert "陳美玲" in page.content.decode()
    session = TokenSession.objects.get(user=user)
    assert session.access_token_enc and "dev-at-" not in session.access_token_enc


@pytest.mark.django_db
def test_sign_in_again_updates_the_same_user(client):
    client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    User.objects.filter(email="ada.lin@example.com").update(display_name="Old Name")
    client.post("/logout/")
    client.post("/login/", {"username": "ADA.LIN@example.com", "password": "demo-password"})
    assert User.objects.filter(email="ada.lin@example.com").count() == 1
    assert User.objects.get(email="ada.lin@example.com").display_name == "Ada Lin"


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_signs_nobody_in(client):
    response = client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong"})
    assert response.status_code == 401
    assert "The email or password is not correct." in response.content.decode()
    assert not User.objects.exists() and not TokenSession.objects.exists()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_is_post_only_and_ends_the_session(client):
    client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    assert client.get("/logout/").status_code == 405
    assert TokenSession.objects.count() == 1
    assert client.post("/logout/").status_code == 302
    assert TokenSession.objects.count() == 0
    assert client.get("/").status_code == 302

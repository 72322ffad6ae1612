"""Sign a test client in the way the app expects: a Django login plus its TokenSession row."""


def signed_in(client, user):
    """force_login plus the session row the sign-in code keeps for every browser session."""
    from accounts.models import TokenSession

    client.force_login(user, backend="accounts.backends.ExternalAuthBackend")
    TokenSession.objects.get_or_create(user=user, session_key=client.session.session_key)
    return client

"""Lockouts that cannot be turned on a user (issue 15, item 3).

Failures lock per (account, client address) and per address; failures from everywhere
only space attempts on the account out. A wrong password costs the same time whether or
not the name is a local operator's.
"""

import statistics
import time

import pytest

from accounts.models import LoginFailure, User
from accounts.selectors import account_delay_seconds
from tests.accounts.conftest import ADA, sign_in

TOO_MANY = "Too many failed sign-in attempts."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 5
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 20
    settings.LOGIN_ATTEMPT_WINDOW = 900
    settings.LOGIN_ACCOUNT_SLOWDOWN_AFTER = 10
    settings.LOGIN_ACCOUNT_DELAY_MAX = 30
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; timing test below resets


@pytest.mark.django_db
def test_five_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(client, dev_auth_api):
    for _ in range(5):
        assert sign_in(client, password="wrong", REMOTE_ADDR="203.0.113.7").status_code == 401
    assert sign_in(client, password="wrong", REMOTE_ADDR="203.0.113.7").status_code == 429  # the attacker is
    owner = sign_in(client, REMOTE_ADDR="198.51.100.20")
    assert owner.status_code == 302, owner.content[:300]  # the owner is not


@pytest.mark.django_db
def test_a_distributed_attack_only_slows_the_account(client, dev_auth_api, settings):
    for i in range(10):  # ten addresses, one failure each: the account-wide count reaches the slowdown
        assert sign_in(client, password="wrong", REMOTE_ADDR=f"203.0.113.{i + 1}").status_code == 401
    slowed = sign_in(client, password="wrong", REMOTE_ADDR="203.0.113.99")
    assert slowed.status_code == 429 and "spaced out" in slowed.content.decode()
    assert "Wait 1 second, then try again." in slowed.content.decode()
    # The delay grows with the failures and is capped; the owner waits at most the cap.
    assert [account_delay_seconds(n) for n in (9, 10, 11, 12, 15, 40)] == [0, 1, 2, 4, 30, 30]
    time.sleep(1.1)
    assert sign_in(client, REMOTE_ADDR="198.51.100.20").status_code == 302
    assert not LoginFailure.objects.filter(scope=LoginFailure.Scope.ACCOUNT).exists()  # success forgives


@pytest.mark.django_db
def test_one_address_is_still_limited_across_accounts(client):
    for i in range(20):
        assert sign_in(client, f"guess{i}@example.com", "wrong", REMOTE_ADDR="203.0.113.5").status_code == 401
    blocked = sign_in(client, REMOTE_ADDR="203.0.113.5")
    assert blocked.status_code == 429 and TOO_MANY in blocked.content.decode()
    assert sign_in(client, REMOTE_ADDR="198.51.100.20").status_code == 302


def _medians_wrong_password_ms(client, names, rounds=5):
    """Median time of a wrong password per name, the names taken in turn (the machine's load drifts)."""
    times = {name: [] for name in names}
    for i in range(rounds):
        for name in names:
            started = time.perf_counter()
            response = sign_in(client, name, f"wrong-{i}", REMOTE_ADDR=f"192.0.2.{i + 1}")
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 401
    return [statistics.median(times[name]) for name in names]


@pytest.mark.django_db
def test_a_wrong_password_costs_the_same_for_a_local_operator_and_for_anyone(client, settings):
    """Was ~550 ms for a local staff account against ~25 ms for others: it told who the operators are."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    User.objects.create_superuser("operator@example.com", "local-secret-123")
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 1000
    staff, unknown, company = _medians_wrong_password_ms(client, ["operator@example.com", "nobody@example.com",
                                                                  ADA[0]])
    print(f"wrong password, median of 5: local operator {staff:.0f} ms, unknown {unknown:.0f} ms, "
          f"company user {company:.0f} ms")
    for other in (unknown, company):
        assert 0.5 < staff / other < 2.0, (staff, unknown, company)  # was ~22x apart

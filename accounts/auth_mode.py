"""Which authentication backends each AUTH_MODE uses.

Kept free of Django imports so that settings.py can derive AUTHENTICATION_BACKENDS
from AUTH_MODE at start-up. The backends check the mode again at call time, so an
override in tests or a stale list can never widen what a mode allows.
"""

EXTERNAL = "external"
LOCAL = "local"
BOTH = "both"
MODES = (EXTERNAL, LOCAL, BOTH)

_LOCAL_BACKEND = "accounts.backends.LocalAccountBackend"
_EXTERNAL_BACKEND = "accounts.backends.ExternalAuthBackend"

# Company first, then local: a company sign-in that succeeds costs no password hash, and
# every one that does not (wrong password, unknown name, API down) is followed by exactly
# one local hash, whether or not a local account exists: the time taken never tells who
# the operators are. The external backend hands API failures on instead of raising, so
# operators can still sign in while the company API is down.
BACKENDS = {
    EXTERNAL: [_EXTERNAL_BACKEND, _LOCAL_BACKEND],  # local passwords: staff only
    BOTH: [_EXTERNAL_BACKEND, _LOCAL_BACKEND],      # local passwords: anyone with one
    LOCAL: [_LOCAL_BACKEND],                        # no company API at all
}


def backends_for(mode: str) -> list[str]:
    return list(BACKENDS[mode])

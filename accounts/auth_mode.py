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

# Local first: it answers from the database alone, so operators can still sign in
# while the company API is down (the external backend raises when it is).
BACKENDS = {
    EXTERNAL: [_LOCAL_BACKEND, _EXTERNAL_BACKEND],  # local passwords: staff only
    BOTH: [_LOCAL_BACKEND, _EXTERNAL_BACKEND],      # local passwords: anyone with one
    LOCAL: [_LOCAL_BACKEND],                        # no company API at all
}


def backends_for(mode: str) -> list[str]:
    return list(BACKENDS[mode])

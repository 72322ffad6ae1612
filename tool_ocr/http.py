"""HTTP facts the app relies on in more than one place."""

# RFC 9110 9.2.1: methods that change nothing, so they need no CSRF token and are no attempt at a change.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

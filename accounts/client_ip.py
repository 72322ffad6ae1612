"""The client's address, for the brute-force limit and the session record."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the last entry of CLIENT_IP_HEADER when behind a trusted proxy.

    The last entry is the address the proxy itself saw; earlier ones are whatever the
    client claimed and cannot be trusted.
    """
    raw = ""
    if settings.CLIENT_IP_HEADER:
        meta_key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
        raw = (request.META.get(meta_key) or "").split(",")[-1].strip()
    raw = raw or request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None

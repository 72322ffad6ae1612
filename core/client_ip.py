"""The client's address: one function for the audit log, log lines, metrics and sign-in limits.

Behind a reverse proxy every connection comes from the proxy, so the client's address is in
the header the proxy sets (CLIENT_IP_HEADER). That header is believed only when the
connection itself comes from a trusted proxy (TRUSTED_PROXIES): a client that reaches
gunicorn directly cannot name another address by sending the header itself.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

_CACHE_ATTR = "_tool_ocr_client_ip"


def header_meta_key(name: str) -> str:
    """The request.META key of a header written either way: X-Forwarded-For or HTTP_X_FORWARDED_FOR."""
    key = (name or "").strip().upper().replace("-", "_")
    if not key:
        return ""
    return key if key.startswith("HTTP_") else "HTTP_" + key


def _address(raw: str):
    raw = (raw or "").strip()
    if raw.startswith("[") and "]" in raw:  # [::1]:port
        raw = raw[1:raw.index("]")]
    elif raw.count(":") == 1:  # 1.2.3.4:port
        raw = raw.split(":")[0]
    try:
        return ipaddress.ip_address(raw.split("%")[0])
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(entries: tuple) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address) -> bool:
    return address is not None and any(address in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def resolve(remote_addr: str, header_value: str | None) -> str | None:
    """The client address from the connection's address and the proxy header's value.

    The header is read from the right: each trusted proxy appends the address it saw, so the
    first entry from the right that is not itself a trusted proxy is the client. Entries
    further left are whatever the client claimed and are never used.
    """
    remote = _address(remote_addr)
    if remote is None:
        return None
    if header_value is None or not is_trusted_proxy(remote):
        return str(remote)
    candidates = [_address(part) for part in header_value.split(",") if part.strip()]
    for address in reversed(candidates):
        if address is None:
            break  # garbage from here on to the left: keep the last good hop
        remote = address
        if not is_trusted_proxy(address):
            break
    return str(remote)


def client_ip(request) -> str | None:
    """The client's address for this request (computed once per request)."""
    if request is None:
        return None
    cached = getattr(request, _CACHE_ATTR, False)
    if cached is not False:
        return cached
    key = header_meta_key(settings.CLIENT_IP_HEADER)
    value = request.META.get(key) if key else None
    address = resolve(request.META.get("REMOTE_ADDR", ""), value)
    try:
        setattr(request, _CACHE_ATTR, address)
    except AttributeError:  # pragma: no cover - objects without attributes
        pass
    return address

"""Helpers for the tests that attack the running app (pytest-django's live_server) over real HTTP."""

import socket
import time
from urllib.parse import urlsplit

import requests
from django.test import Client

from tests.tasks.history_helpers import signed_in


def browser_for(live_server, user) -> requests.Session:
    """A requests session signed in as ``user`` (a real session row and cookie), with its CSRF cookie."""
    client = signed_in(Client(), user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(live_server.url + "/", timeout=10)  # the page sets the csrftoken cookie
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def signed_in_for_real(live_server, email: str, password: str = "demo-password"):
    """(session, the sign-in's answer): through the login page and the company API (the dev auth API)."""
    session = requests.Session()
    session.get(live_server.url + "/login/", timeout=10)
    response = session.post(live_server.url + "/login/", timeout=30, allow_redirects=False,
                            data={"username": email, "password": password,
                                  "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session, response


def raw_connection(url: str, timeout: float = 10) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_response_head(sock: socket.socket, deadline: float = 10) -> tuple[int, dict, bytes]:
    """Status, headers and what arrived of the body, reading until the headers are complete."""
    data, stop = b"", time.monotonic() + deadline
    while b"\r\n\r\n" not in data and time.monotonic() < stop:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, rest


def read_body(sock: socket.socket, headers: dict, rest: bytes, deadline: float = 10) -> bytes:
    """The body: Content-Length bytes, or without one whatever arrives before the connection goes quiet."""
    length, stop = headers.get("content-length"), time.monotonic() + deadline
    sock.settimeout(1 if length is None else deadline)
    while (length is None or len(rest) < int(length)) and time.monotonic() < stop:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        rest += chunk
    return rest

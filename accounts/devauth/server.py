"""A small implementation of the company authentication API, for development and tests.

It speaks the contract in shared/docs/external-auth-api.md over real HTTP, with demo
users from a JSON file, and has switches (``POST /_dev/config``) to be slow, down,
answer 5xx/429/garbage/401, issue short-lived tokens and refuse or lack refresh, so
that tests drive every failure path of the real client.
"""

import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_USERS_FILE = Path(__file__).with_name("demo_users.json")

DEFAULT_CONFIG = {
    "delay_seconds": 0.0,      # sleep before answering every API call
    "fail_mode": None,         # None | "500" | "503" | "429" | "garbage" | "401" | "drop"
    "fail_count": None,        # fail only the next N calls (None: all while fail_mode is set)
    "retry_after": 1,          # Retry-After header for 429
    "expires_in": 4999,        # lifetime of issued access tokens, seconds
    "refresh_mode": "ok",      # "ok" | "refuse" (401) | "missing" (404)
    "issue_refresh_token": True,
    # Hostile answers (tests/security): extra directory people, fields merged into the login
    # answer's data / userInfo, a raw login body, or MBs of padding before it (no length).
    "extra_users": [],
    "login_data": {},
    "login_user_info": {},
    "login_raw": None,
    "login_padding_mb": 0,
}


def _now():
    return datetime.now(timezone.utc)


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class DevAuthState:
    """Users, issued tokens, switches and call counters, shared by the handler threads."""

    def __init__(self, users):
        self.lock = threading.Lock()
        self.users = {u["username"].lower(): u for u in users}
        for u in users:
            self.users.setdefault(u["email"].lower(), u)
        self.config = dict(DEFAULT_CONFIG)
        self.access_tokens = {}   # token -> (user, expires_at)
        self.refresh_tokens = {}  # token -> user
        self.calls = {}           # path -> count

    def count(self, path):
        with self.lock:
            self.calls[path] = self.calls.get(path, 0) + 1

    def take_failure(self):
        with self.lock:
            mode = self.config.get("fail_mode")
            if not mode:
                return None
            remaining = self.config.get("fail_count")
            if remaining is not None:
                if remaining <= 0:
                    return None
                self.config["fail_count"] = remaining - 1
            return mode

    def issue(self, user):
        with self.lock:
            expires_in = int(self.config["expires_in"])
            issued = _now()
            expires = issued + timedelta(seconds=expires_in)
            access = "dev-at-" + secrets.token_urlsafe(24)
            id_token = "dev-id-" + secrets.token_urlsafe(24)
            self.access_tokens[access] = (user, expires)
            data = {
                "access_token": access,
                "id_token": id_token,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "issuedAt": _iso(issued),
                "expiresAt": _iso(expires),
                "userInfo": user_info(user),
            }
            if self.config.get("issue_refresh_token", True):
                refresh = "dev-rt-" + secrets.token_urlsafe(24)
                self.refresh_tokens[refresh] = user
                data["refresh_token"] = refresh
            return data


def user_info(user):
    info = {"id": user["id"], "name": user["name"], "email": user["email"]}
    for key in ("jobTitle", "officeLocation", "businessPhones"):
        if key in user:
            info[key] = user[key]
    return info


def make_handler(state: DevAuthState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ToolOCRDevAuth/1.0"

        def log_message(self, fmt, *args):  # quiet: tests start many of these
            pass

        def _send(self, status, body, headers=None):
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _send_unsized(self, raw, padding_mb):
            """A 200 with no Content-Length: padding_mb MB of spaces, then raw; the end is the close."""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            block = b" " * (1024 * 1024)
            try:
                for _ in range(padding_mb):
                    self.wfile.write(block)
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what the size cap is for

        def _error(self, status, code, message, headers=None):
            self._send(status, {"success": False, "error": message, "code": code, "timestamp": _iso(_now())}, headers)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return None

        def _fail_if_switched(self):
            """Apply the failure switches; True when an answer (or none) was given."""
            delay = float(state.config.get("delay_seconds") or 0)
            if delay:
                time.sleep(delay)
            mode = state.take_failure()
            if mode is None:
                return False
            if mode == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return True
            if mode in ("500", "502", "503"):
                self._error(int(mode), "SERVER_ERROR", "Upstream failure")
            elif mode == "429":
                self._error(429, "RATE_LIMITED", "Too many requests",
                            {"Retry-After": str(state.config.get("retry_after", 1))})
            elif mode == "garbage":
                self.send_response(200)
                body = b"<html>not json</html>"
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "401":
                self._error(401, "INVALID_CREDENTIALS", "Invalid username or password")
            else:
                return False
            return True

        def do_GET(self):
            path = self.path.split("?")[0]
            state.count(path)
            if path == "/_dev/stats":
                return self._send(200, {"calls": state.calls, "config": state.config})
            if path == "/api/auth/me":
                if self._fail_if_switched():
                    return
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else ""
                entry = state.access_tokens.get(token)
                if not entry or entry[1] <= _now():
                    return self._error(401, "INVALID_TOKEN", "Invalid or expired token")
                return self._send(200, {"success": True, "data": {"userInfo": user_info(entry[0])}})
            if path == "/healthz":
                return self._send(200, {"ok": True})
            return self._error(404, "NOT_FOUND", "Not found")

        def do_POST(self):
            path = self.path.split("?")[0]
            state.count(path)
            body = self._body()
            if path == "/_dev/config":
                with state.lock:
                    if body.get("reset"):
                        state.config = dict(DEFAULT_CONFIG)
                        state.calls = {}
                    state.config.update({k: v for k, v in body.items() if k in DEFAULT_CONFIG})
                return self._send(200, {"config": state.config})
            if path == "/api/auth/login":
                if self._fail_if_switched():
                    return
                if body is None:
                    return self._error(400, "VALIDATION_ERROR", "Body must be JSON")
                username, password = body.get("username"), body.get("password")
                if not username or not password:
                    return self._error(400, "VALIDATION_ERROR", "username and password are required")
                user = state.users.get(str(username).strip().lower())
                for extra in state.config.get("extra_users") or ():
                    if str(username).strip().lower() in (extra["username"].lower(), extra["email"].lower()):
                        user = extra
                if not user or not secrets.compare_digest(str(password), user["password"]):
                    return self._error(401, "INVALID_CREDENTIALS", "Invalid username or password")
                if user.get("locked"):
                    return self._error(423, "ACCOUNT_LOCKED", "Account is locked")
                if user.get("disabled"):
                    return self._error(403, "ACCOUNT_DISABLED", "Account is disabled")
                data = state.issue(user)
                data.update(state.config.get("login_data") or {})
                if isinstance(data.get("userInfo"), dict):
                    data["userInfo"] = {**data["userInfo"], **(state.config.get("login_user_info") or {})}
                answer = {"success": True, "message": "Authentication successful", "data": data,
                          "timestamp": _iso(_now())}
                if state.config.get("login_raw") is not None:
                    return self._send(200, state.config["login_raw"].encode())
                if state.config.get("login_padding_mb"):
                    return self._send_unsized(json.dumps(answer).encode(), int(state.config["login_padding_mb"]))
                return self._send(200, answer)
            if path == "/api/auth/refresh":
                mode = state.config.get("refresh_mode")
                if mode == "missing":
                    return self._error(404, "NOT_FOUND", "Not found")
                if self._fail_if_switched():
                    return
                token = (body or {}).get("refresh_token")
                with state.lock:
                    user = state.refresh_tokens.pop(token, None) if token else None
                if mode == "refuse" or user is None:
                    return self._error(401, "INVALID_REFRESH_TOKEN", "Refresh token is invalid or expired")
                data = state.issue(user)
                return self._send(200, {"success": True, "message": "Token refreshed", "data": data,
                                        "timestamp": _iso(_now())})
            return self._error(404, "NOT_FOUND", "Not found")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that gave up (timeouts are what the tests drive) is not an error here."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def load_users(path=None):
    with open(path or DEFAULT_USERS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def make_server(host="127.0.0.1", port=8765, users=None):
    """A ready ThreadingHTTPServer; port 0 picks a free port (server.server_address)."""
    state = DevAuthState(users if users is not None else load_users())
    server = _QuietServer((host, port), make_handler(state))
    server.daemon_threads = True
    server.state = state
    return server

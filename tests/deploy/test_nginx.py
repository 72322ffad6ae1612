"""The shipped deploy/nginx.conf, run by Debian's nginx on loopback in front of gunicorn with the shipped
deploy/gunicorn.conf.py and DEBUG off: sign-in, upload, download, static files, the client address in
the audit log, X-Forwarded-Proto, and the body-size limit."""

import datetime
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.deploy.stack import ROOT, Gunicorn, ScratchDatabase, app_env, csrf_headers, free_port, manage, sign_in
from tests.tasks.history_helpers import png_bytes

pytestmark = pytest.mark.mariadb

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PROXY_HOST = "127.0.0.2"   # nginx listens here ...
CLIENT_ADDR = "127.0.0.5"  # ... and the browser connects from here: the address the audit row must hold


class FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address, so the client is not 127.0.0.1 like nginx itself."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (CLIENT_ADDR, 0)
        super().init_poolmanager(*args, **kwargs)


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PROXY_HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(PROXY_HOST))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def shipped_config(*, tls_port, plain_port, upstream, static_root, cert, key, body_mb) -> str:
    """deploy/nginx.conf with only its ports, paths and the body size filled in (each must be found)."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = [
        ("listen 443 ssl http2;", f"listen {PROXY_HOST}:{tls_port} ssl http2;"),
        ("listen 80;", f"listen {PROXY_HOST}:{plain_port};"),
        ("/etc/ssl/certs/ocr.example.com.pem", str(cert)),
        ("/etc/ssl/private/ocr.example.com.key", str(key)),
        ("proxy_pass http://127.0.0.1:8000;", f"proxy_pass {upstream};"),
        ("alias /var/lib/tool-ocr/static/;", f"alias {static_root}/;"),
        ("client_max_body_size 200m;", f"client_max_body_size {body_mb}m;"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: Path) -> str:
    import os

    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


SUB_PATH = "/ocr"


def sub_path_config(text: str) -> str:
    """The shipped config changed as its own comment says for an app under /ocr/ (each change must be found)."""
    documented = [
        "#     location = /metrics   becomes   location = /ocr/metrics",
        "#     location /static/     becomes   location /ocr/static/   (the same alias)",
        "#     location /            becomes   location /ocr/          with one more line:",
        "#         proxy_set_header SCRIPT_NAME /ocr;",
        "#   STATIC_URL=/ocr/static/",
    ]
    for line in documented:
        assert line in text, f"deploy/nginx.conf no longer documents {line!r}: update this test with it"
    replacements = [
        ("location = /metrics { deny", "location = /ocr/metrics { deny"),
        ("location /static/ { alias", "location /ocr/static/ { alias"),
        ("    location / {\n", "    location /ocr/ {\n        proxy_set_header SCRIPT_NAME /ocr;\n"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    return text


@pytest.fixture
def stack(tmp_path, dev_auth_api):
    yield from _stack(tmp_path, dev_auth_api)


@pytest.fixture
def sub_path_stack(tmp_path, dev_auth_api):
    yield from _stack(tmp_path, dev_auth_api, sub_path=SUB_PATH)


def _stack(tmp_path, dev_auth_api, sub_path=""):
    if NGINX is None:
        pytest.fail("Debian's nginx is needed (scripts/system_deps.sh installs it)")
    db = ScratchDatabase("nginx")
    tls_port, plain_port = free_port(PROXY_HOST), free_port(PROXY_HOST)
    origin = f"https://{PROXY_HOST}:{tls_port}"
    base = origin + sub_path
    env = app_env(tmp_path, db.url, EXTERNAL_AUTH_API_URL=dev_auth_api.url, MAX_UPLOAD_MB=1, MAX_REQUEST_MB=2,
                  CLIENT_IP_HEADER="X-Forwarded-For", SECURE_PROXY_SSL_HEADER_NAME="X-Forwarded-Proto",
                  SECURE_SSL_REDIRECT="true", CSRF_TRUSTED_ORIGINS=origin, STATIC_URL=f"{sub_path}/static/")
    gunicorn = nginx = None
    try:
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "collectstatic", "--no-input", "-v0")
        gunicorn = Gunicorn(env, tmp_path / "gunicorn.log")
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        cert, key = _certificate(prefix)
        site = prefix / "tool-ocr.conf"
        config = shipped_config(tls_port=tls_port, plain_port=plain_port, upstream=gunicorn.url,
                                static_root=tmp_path / "data" / "static", cert=cert, key=key, body_mb=2)
        site.write_text(sub_path_config(config) if sub_path else config)
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, site))
        checked = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(prefix)], capture_output=True, text=True)
        assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix)], stderr=subprocess.PIPE)
        session = requests.Session()
        session.mount("https://", FromAddress())
        session.mount("http://", FromAddress())
        session.trust_env = False  # no proxy or CA bundle from the environment (it would override verify)
        session.verify = False  # our own self-signed certificate; TLS is nginx's business, not under test
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        for _ in range(100):
            try:
                session.get(f"{base}/healthz", timeout=2)
                break
            except requests.RequestException:
                if nginx.poll() is not None:
                    raise AssertionError(nginx.stderr.read().decode()) from None
                import time

                time.sleep(0.1)
        yield {"base": base, "plain": f"http://{PROXY_HOST}:{plain_port}", "session": session, "db": db,
               "gunicorn": gunicorn, "tmp": tmp_path}
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        if gunicorn is not None:
            gunicorn.stop()
        db.drop()


def _sql(stack, query) -> list[list[str]]:
    out = stack["db"].server.execute(query, database=stack["db"].name)
    return [line.split("\t") for line in out.splitlines() if line]


def test_the_shipped_nginx_conf_in_front_of_gunicorn(stack):
    session, base = stack["session"], stack["base"]

    # X-Forwarded-Proto: https is honoured, so SECURE_SSL_REDIRECT does not loop and cookies are Secure.
    page = session.get(f"{base}/login/", allow_redirects=False)
    assert page.status_code == 200
    assert "secure" in page.headers["Set-Cookie"].lower()
    # A spoofed X-Forwarded-For from the client is replaced by the address nginx saw.
    signed = sign_in(session, base, "ada.lin@example.com")
    assert "secure" in signed.headers["Set-Cookie"].lower() and "sessionid" in signed.headers["Set-Cookie"]
    assert session.get(f"{base}/", headers={"X-Forwarded-For": "6.6.6.6"}).status_code == 200
    [[ip]] = _sql(stack, "SELECT ip_address FROM tool_ocr_audit_log WHERE action = 'auth.login' "
                         "AND outcome = 'allowed'")
    assert ip == CLIENT_ADDR

    # Upload and download through the proxy.
    content = png_bytes((120, 60))
    created = session.post(f"{base}/api/v1/tasks", files={"files": ("scan.png", content, "image/png")},
                           headers={**csrf_headers(session, base), "X-Forwarded-For": "6.6.6.6"})
    assert created.status_code == 201, created.text[:500]
    task_id = created.json()["tasks"][0]["id"]
    download = session.get(f"{base}/api/v1/tasks/{task_id}/original")
    assert download.status_code == 200 and hashlib.sha256(download.content).digest() == hashlib.sha256(content).digest()
    ips = {row[0] for row in _sql(stack, "SELECT ip_address FROM tool_ocr_audit_log WHERE action = 'file.download'")}
    assert ips == {CLIENT_ADDR}

    # Static files with DEBUG off: collectstatic, then nginx serves them (gunicorn does not).
    css = session.get(f"{base}/static/css/app.css")
    assert css.status_code == 200 and css.content == (ROOT / "static" / "css" / "app.css").read_bytes()
    assert css.headers["Content-Type"].startswith("text/css") and "nginx" in css.headers.get("Server", "")
    direct = requests.get(f"{stack['gunicorn'].url}/static/css/app.css", headers={"X-Forwarded-Proto": "https"},
                          allow_redirects=False)
    assert direct.status_code == 404

    # An oversized body is refused by nginx with 413, and nothing reaches the app.
    tasks_before = _sql(stack, "SELECT COUNT(*) FROM tool_ocr_tasks")
    big = session.post(f"{base}/api/v1/tasks", files={"files": ("big.png", b"\0" * (3 * 1024 * 1024), "image/png")},
                       headers=csrf_headers(session, base))
    assert big.status_code == 413
    assert _sql(stack, "SELECT COUNT(*) FROM tool_ocr_tasks") == tasks_before

    # Plain HTTP is sent to HTTPS; /metrics is not reachable through the proxy.
    plain = session.get(f"{stack['plain']}/login/", allow_redirects=False)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    assert session.get(f"{base}/metrics").status_code == 403

    # Sign-out through the proxy, audited with nginx's view of the client too.
    out = session.post(f"{base}/logout/", headers=csrf_headers(session, base), allow_redirects=False)
    assert out.status_code == 302
    assert _sql(stack, "SELECT ip_address FROM tool_ocr_audit_log WHERE action = 'auth.logout'") == [[CLIENT_ADDR]]


def test_the_shipped_nginx_conf_under_a_sub_path(sub_path_stack):
    """deploy/nginx.conf changed as its comment says for /ocr/: gunicorn gets SCRIPT_NAME from nginx, and every
    link, redirect and download URL the app writes stays under /ocr/; the probes still answer at gunicorn's root."""
    from tests.tool_ocr.test_script_prefix import links

    stack = sub_path_stack
    session, base, origin = stack["session"], stack["base"], stack["base"].removesuffix(SUB_PATH)
    signed_out = session.get(f"{base}/history/", allow_redirects=False)
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == f"{SUB_PATH}/login/?next={SUB_PATH}/history/"
    signed = sign_in(session, base, "ada.lin@example.com")
    assert signed.headers["Location"] == f"{SUB_PATH}/"
    created = session.post(f"{base}/api/v1/tasks", files={"files": ("scan.png", png_bytes((120, 60)), "image/png")},
                           headers=csrf_headers(session, base))
    assert created.status_code == 201, created.text[:500]
    task = created.json()["tasks"][0]
    [original] = [f["url"] for f in session.get(f"{base}/api/v1/tasks/{task['id']}").json()["files"]]
    assert original == f"{SUB_PATH}/api/v1/tasks/{task['id']}/original"
    assert session.get(origin + original).status_code == 200

    seen = []
    for path in ("/", "/history/", f"/tasks/{task['id']}/", "/account/tokens/", "/no-such-page/"):
        page = session.get(base + path, allow_redirects=False)
        assert page.status_code in (200, 404), (path, page.status_code)
        found = links(page.text)
        assert found and all(url.startswith(SUB_PATH + "/") for url in found), (path, found)
        seen += found
    stylesheets = [url for url in seen if url.endswith(".css")]
    assert stylesheets and all(session.get(origin + url).status_code == 200 for url in set(stylesheets))
    css = session.get(f"{base}/static/css/app.css")
    assert css.content == (ROOT / "static" / "css" / "app.css").read_bytes() and "nginx" in css.headers["Server"]
    assert session.get(f"{base}/metrics").status_code == 403
    assert session.get(f"{base}/readyz").status_code in (200, 503)  # through nginx: answered by the probe
    assert requests.get(f"{stack['gunicorn'].url}/healthz", timeout=5).status_code == 200  # the root, direct

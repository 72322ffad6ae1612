"""The docs agree with the code: every variable a process reads is documented, one install path,
the API's error statuses as the code answers them, the settings file that is really read."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("tool_ocr", "core", "accounts", "tasks", "ops", "deploy")


def variables_read() -> set[str]:
    names = set()
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r'cfg\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', text))
            names |= set(re.findall(r'os\.environ(?:\.get)?[\(\[]\s*"([A-Z][A-Z0-9_]+)"', text))
    for path in (ROOT / "scripts").glob("*.sh"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", path.read_text()))
    return names - {"DJANGO_SETTINGS_MODULE"}


def test_every_variable_the_processes_read_is_in_env_example_and_the_readme():
    names = variables_read()
    assert {"SECRET_KEY", "TRUSTED_PROXIES", "GUNICORN_BIND", "WORKER_MAX_TASKS", "TOOL_OCR_ENV_FILE"} <= names
    env_example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_env = sorted(n for n in names if not re.search(rf"^#?\s*{n}=", env_example, re.M))
    missing_readme = sorted(n for n in names if f"| `{n}` |" not in readme)
    assert missing_env == [] and missing_readme == []


def test_one_install_path():
    texts = {p: p.read_text() for p in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("deploy/**/*")]
             if p.is_file() and p.suffix in (".md", ".conf", ".service", ".py", "")}
    for path, text in texts.items():
        assert "/srv/" not in text, path
        assert not re.search(r"/opt/(?!tool-ocr\b)[\w-]+", text), path


def test_api_doc_says_another_users_task_is_404():
    api = (ROOT / "docs" / "api.md").read_text()
    assert "403 not yours" not in api and "Another user's task answers\n404" in api


def test_the_settings_file_is_the_one_documented(tmp_path):
    """.env.local is not read; TOOL_OCR_ENV_FILE points at any file, and the environment wins over it."""
    (tmp_path / "settings.env").write_text("SECRET_KEY=from-the-file-" + "x" * 40 + "\nTIME_ZONE=Europe/Paris\n"
                                           "LOG_LEVEL=ERROR\n")
    probe = "from django.conf import settings; print(settings.TIME_ZONE, settings.SECRET_KEY[:14])"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tool_ocr.settings", "DATA_DIR": str(tmp_path),
           "TOOL_OCR_ENV_FILE": str(tmp_path / "settings.env"), "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + probe], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split() == ["Europe/Paris", "from-the-file-"]
    readme = (ROOT / "README.md").read_text()
    assert "TOOL_OCR_ENV_FILE" in readme and ".env.local" in readme

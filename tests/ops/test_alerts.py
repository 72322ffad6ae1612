"""Alert rules: valid for Prometheus, each fires on sample series, and only names metrics the app exports."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool missing (scripts/system_deps.sh installs it)")


@needs_promtool
def test_promtool_check_rules():
    result = subprocess.run([promtool, "check", "rules", str(RULES / "alerts.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 13 rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_fire_each_alert():
    result = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = set(re.findall(r"- alert: (\w+)", (RULES / "alerts.yml").read_text()))
    tests = (RULES / "alerts_test.yml").read_text()
    fired = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels", tests))
    assert fired == rules  # every rule has a test in which it fires


@pytest.mark.django_db
def test_rules_use_only_exported_metrics(client):
    from prometheus_client.parser import text_string_to_metric_families

    exported = set()
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        exported.update(s.name for s in family.samples)
        exported.add(family.name)
    from ops import metrics

    metrics.record_task_finished("probe", "completed", pages=1, seconds=1.0)  # histograms appear once observed
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        exported.update(s.name for s in family.samples)
    used = set(re.findall(r"\b(tool_ocr_\w+)", (RULES / "alerts.yml").read_text()))
    assert used and used <= exported, used - exported

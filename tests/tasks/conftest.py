"""Fixtures shared by the tests of several parts of tasks/ (intake, pipeline, files, web); helpers in *_helpers.py."""

import pytest

from tests.tasks.pipeline_helpers import FakeEngine


@pytest.fixture
def fake_engine(monkeypatch):
    """Every task in this test is read by one FakeEngine, whatever engine it names."""
    engine = FakeEngine()
    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: engine)
    return engine

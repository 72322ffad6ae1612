"""core.timespan: the one module that writes time spans for people, one rounding per reader."""

import pytest

from core.timespan import clock_text, duration_text, retry_in_text, wait_text


@pytest.mark.parametrize("seconds, text", [(30, "30 seconds"), (90, "90 seconds"), (600, "10 minutes"),
                                           (3600, "1 hour"), (1, "1 second"), (7200, "2 hours"), (0, "0 seconds")])
def test_a_setting_is_printed_exactly(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize("seconds, text", [(1, "1 second"), (59, "59 seconds"), (60, "1 minute"),
                                           (61, "2 minutes"), (900, "15 minutes")])
def test_a_wait_is_never_shorter_than_the_truth(seconds, text):
    assert wait_text(seconds) == text


@pytest.mark.parametrize("seconds, text", [(0.2, "1 second"), (1, "1 second"), (1.01, "2 seconds"), (30, "30 seconds")])
def test_a_retry_is_at_least_one_second_away(seconds, text):
    assert retry_in_text(seconds) == text


@pytest.mark.parametrize("seconds, text", [(None, "—"), (12.34, "12.3 s"), (245, "4 min 05 s"),
                                           (3720, "1 h 02 min")])
def test_a_measured_duration_is_compact(seconds, text):
    assert clock_text(seconds) == text

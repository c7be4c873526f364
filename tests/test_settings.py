"""Settings.load: the one merge of explicit arguments over the environment."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError, first_error
from agent.settings import Settings


def test_explicit_arguments_win_over_the_environment_and_none_means_not_given(monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_MODEL", "from-env")
    monkeypatch.setenv("PAPER_AGENT_CONCURRENCY", "3")
    s = Settings.load(model="explicit", concurrency=None)
    assert (s.model, s.concurrency) == ("explicit", 3)


def test_overrides_apply_on_top_of_a_given_base():
    base = Settings.load(model="base-model", timeout=7.5)
    s = Settings.load(base, timeout=2.0)
    assert (s.model, s.timeout) == ("base-model", 2.0)


def test_a_bad_value_is_one_config_error_line_naming_the_field(monkeypatch):
    with pytest.raises(ConfigError) as err:
        Settings.load(concurrency=0)
    assert str(err.value).startswith("invalid setting: field 'concurrency'")
    assert "\n" not in str(err.value)


def test_a_bad_environment_value_is_a_config_error_too(monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="invalid setting: field 'timeout'"):
        Settings.load()


def test_first_error_of_a_plain_exception_is_its_message():
    assert first_error(ValueError("boom")) == "boom"

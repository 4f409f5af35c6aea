"""Without Chromium the browser tests fail (never a silent skip), except on an explicit
opt-out outside CI."""

from __future__ import annotations

import pytest

from tests.browser import conftest


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "chromium_path", lambda: None)
    monkeypatch.delenv("SKIP_BROWSER_TESTS", raising=False)


@pytest.mark.usefixtures("no_chromium")
@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_chromium_fails(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        conftest.require_chromium()


@pytest.mark.usefixtures("no_chromium")
def test_opt_out_skips_on_a_laptop_but_not_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKIP_BROWSER_TESTS", "1")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        conftest.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        conftest.require_chromium()

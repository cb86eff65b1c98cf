"""The browser tests skip without their tools, except in CI, where that is a failure."""

from __future__ import annotations

import pytest

from tests import browser


def test_missing_tools_skip_locally_and_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        browser.need()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"chromium .*\.ci/run installs them"):
        browser.need()


def test_contrast_is_wcag_s() -> None:
    assert browser.contrast("#ffffff", "rgb(0, 0, 0)") == pytest.approx(21)
    assert browser.contrast("#f0883e", "#ffffff") < 3 <= browser.contrast("#d4691a", "#ffffff")

"""What every console test does to a page: log in, check it, photograph it.

`PageCheck` collects the browser's console errors (a refusal the test expects
is allowed by status), runs axe-core (vendored, injected here only) and the
overflow check, and saves screenshots under the run's screenshot directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Page, expect

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
THEMES = ("light", "dark")
# the browser logs each refused request; these statuses are refusals a page shows inline
_REFUSAL = re.compile(
    r"Failed to load resource: the server responded with a status of (401|403|404)"
)


def screenshot_dir(default: Path) -> Path:
    """JUNCTION_SCREENSHOT_DIR when set, else `default` (under the test's tmp path)."""
    chosen = os.environ.get("JUNCTION_SCREENSHOT_DIR")
    path = Path(chosen) if chosen else default
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class PageCheck:
    """Console errors of one page, and the checks every console page must pass."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not _REFUSAL.search(message.text):
            self.errors.append(message.text)

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], self.errors

    def serious_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.page.evaluate("() => Boolean(window.axe)"):
            self.page.add_script_tag(path=str(AXE))
        result: dict[str, Any] = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    def overflow(self) -> int:
        """How many pixels the page is wider than the window (0: no horizontal scroll)."""
        return int(
            self.page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )


def set_theme(page: Page, theme: str) -> None:
    """Choose a theme with the console's own switch."""
    page.get_by_label("Theme").select_option(theme)
    expect(page.locator("html")).to_have_attribute("data-theme", theme)


def settle(page: Page) -> None:
    """Wait until no part of the page is loading."""
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    page.wait_for_load_state("networkidle")


def chart_sums(page: Page, chart_id: str) -> list[list[object]]:
    """Each dataset of a drawn chart as [label, sum of its values].

    Chart.js loads on first use, after the tables are filled: wait until the
    chart of the section holding `chart_id` exists before reading it.
    """
    page.wait_for_function(
        """(id) => {
            const section = document.querySelector('#' + id)?.closest('section');
            const canvas = section?.querySelector('canvas');
            return Boolean(window.Chart && canvas && window.Chart.getChart(canvas));
        }""",
        arg=chart_id,
    )
    drawn: list[list[object]] = page.evaluate(
        """(id) => {
            const section = document.querySelector('#' + id).closest('section');
            const chart = window.Chart.getChart(section.querySelector('canvas'));
            const sum = (values) => values.reduce((a, b) => a + (b || 0), 0);
            return chart.data.datasets.map(d => [d.label, sum(d.data)]);
        }""",
        chart_id,
    )
    return drawn


def photograph(
    check: PageCheck, name: str, into: Path, sizes: Iterable[str] = ("desktop", "phone")
) -> None:
    """Screenshots of the page in each theme and size.

    Asserts, for each, no horizontal overflow and no serious axe-core finding.
    """
    page = check.page
    for size in sizes:
        page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
        for theme in THEMES:
            set_theme(page, theme)
            settle(page)
            page.screenshot(path=str(into / f"{name}-{size}-{theme}.png"), full_page=True)
            assert check.overflow() <= 0, f"{name} overflows by {check.overflow()} px at {size}"
            violations = check.serious_violations()
            assert violations == [], f"{name} ({size}, {theme}): {violations}"
    page.set_viewport_size(DESKTOP)


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your tenants")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def go(page: Page, hash_path: str, heading: str | re.Pattern[str]) -> None:
    """Open a deep link and wait for its page's heading."""
    page.goto("/" + hash_path)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    settle(page)


def nav(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Tenant pages").get_by_role(
        "link", name=label, exact=True
    ).click()
    settle(page)


__all__ = ["Error", "PageCheck", "go", "log_in", "log_out", "nav", "photograph", "settle"]

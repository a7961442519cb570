"""Accessibility checks of the browser tests: axe-core (the copy shipped by the `axe-playwright-python` package,
MPL-2.0) run in the page as it stands, failing on any serious or critical violation (RGAA / WCAG 2.1 AA rules).

Call `await assert_accessible(page, "what the page shows now")` at each state a test reaches (a page, a pop, an
open list, an error): axe checks what is rendered, so each state is its own check.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from playwright.async_api import Page

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = frozenset({"serious", "critical"})


@cache
def axe_source() -> str:
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact)."""
    await page.evaluate(axe_source())
    result: dict[str, Any] = await page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]},
    )
    found: list[dict[str, Any]] = result["violations"]
    return found


async def assert_accessible(page: Page, state: str) -> None:
    """Fail with a readable list when axe-core finds a serious or critical violation on the page as it is."""
    blocking = [v for v in await violations(page) if v.get("impact") in BLOCKING]
    if blocking:
        lines = [f"axe-core on {state!r} ({page.url}): {len(blocking)} serious or critical violation(s)"]
        for v in blocking:
            targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']} — {targets}")
        raise AssertionError("\n".join(lines))

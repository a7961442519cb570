"""Keyboard, focus and reflow checks of the browser tests (WCAG 2.1 AA: 2.1.1 keyboard, 2.4.7 focus visible,
1.4.11 non-text contrast of the focus ring, 1.4.10 reflow at 320 CSS px, 1.4.4 text at 200 %).

- `await tab_to(page, "#q-save")` presses Tab until that element has the focus, checking on the way that every
  element reached shows a focus ring of 2 px or more, at 3:1 or more against what is behind it.
- `await focus_ring(page)` describes the ring of the element that has the focus now (`FocusRing`).
- `await assert_reflows(page, 320)` checks that the page at that width scrolls only vertically.
- `await cut_select_labels(page)` lists the options whose label a visible select of the page would cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.async_api import Page

MIN_RING_CONTRAST = 3.0
MIN_RING_WIDTH = 2.0

# What has the focus, its ring, and the colour behind the ring (the element painted under the middle of the ring's
# left edge, or right edge at the screen's left border, walked up to an opaque background).
_FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const offset = parseFloat(cs.outlineOffset) || 0, width = parseFloat(cs.outlineWidth) || 0;
  let x = rect.left - offset - width / 2;
  if (x < 1) x = rect.right + offset + width / 2;
  const y = Math.min(Math.max(rect.top + rect.height / 2, 1), window.innerHeight - 1);
  let under = document.elementsFromPoint(x, y).find((e) => e !== el && !el.contains(e)) || document.body;
  let background = "rgb(255, 255, 255)";
  for (let e = under; e; e = e.parentElement) {
    const bg = getComputedStyle(e).backgroundColor;
    if (bg && bg !== "transparent" && !/rgba\\(.*, 0\\)$/.test(bg)) { background = bg; break; }
  }
  const label = (el.textContent || "").trim().slice(0, 30);
  const name = el.id ? "#" + el.id : el.tagName.toLowerCase() + (label ? " " + label : "");
  return { name, style: cs.outlineStyle, width, color: cs.outlineColor, background };
}"""


@dataclass(frozen=True)
class FocusRing:
    name: str  # "#id", or the tag and its text
    style: str
    width: float
    color: str
    background: str

    @property
    def contrast(self) -> float:
        return contrast(self.color, self.background)

    def check(self) -> None:
        """Visible (2.4.7) and 3:1 against what is behind it (1.4.11)."""
        assert self.style not in ("none", "hidden") and self.width >= MIN_RING_WIDTH, f"no focus ring on {self}"
        assert self.contrast >= MIN_RING_CONTRAST, f"focus ring of {self.name}: {self.contrast:.2f}:1 ({self})"


def _rgb(css: str) -> tuple[float, float, float]:
    values = [float(v) for v in re.findall(r"[\d.]+", css)[:3]]
    assert len(values) == 3, css
    return values[0], values[1], values[2]


def luminance(css: str) -> float:
    """WCAG relative luminance of a CSS `rgb(…)` colour."""

    def channel(v: float) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(css))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS colours."""
    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


async def focus_ring(page: Page) -> FocusRing | None:
    """The ring of the element that has the focus (None: the focus is on the page's body, i.e. lost)."""
    found = await page.evaluate(_FOCUS_RING)
    return None if found is None else FocusRing(**found)


async def tab_to(page: Page, selector: str, *, limit: int = 60, backwards: bool = False) -> list[FocusRing]:
    """Press Tab (Shift+Tab) until `selector` has the focus; every element reached on the way shows its focus
    (checked). The rings seen, in order."""
    seen: list[FocusRing] = []
    for _ in range(limit):
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
        ring = await focus_ring(page)
        if ring is None:
            continue  # the page's end: the next Tab starts again from the top
        ring.check()
        seen.append(ring)
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return seen
    raise AssertionError(f"{selector} not reached with {limit} Tab presses: {[r.name for r in seen]}")


async def assert_reflows(page: Page, width: int) -> None:
    """At `width` CSS px the page never scrolls sideways (WCAG 1.4.10)."""
    assert await page.evaluate("() => window.innerWidth") == width
    scroll = await page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} CSS px wide at a {width} px viewport"


# The options whose label a visible select cuts: their text, measured in the select's font, against the room the
# select gives it (its inner width less its arrow, measured on a select sized by its one option).
_CUT_SELECTS = """() => {
  const ctx = document.createElement("canvas").getContext("2d");
  const cut = [];
  for (const select of document.querySelectorAll("main select")) {
    if (!select.getClientRects().length) continue;  // hidden
    const cs = getComputedStyle(select);
    ctx.font = cs.fontStyle + " " + cs.fontWeight + " " + cs.fontSize + " " + cs.fontFamily;
    const padding = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
    const probe = select.cloneNode(false);
    probe.removeAttribute("id");
    probe.style.width = "auto";
    probe.style.position = "absolute";
    probe.style.visibility = "hidden";
    const one = document.createElement("option");
    one.text = "MMMMMMMMMM";
    probe.append(one);
    select.parentElement.append(probe);
    const arrow = probe.clientWidth - padding - ctx.measureText(one.text).width;
    probe.remove();
    const room = select.clientWidth - padding - arrow;
    for (const o of select.options) {
      const need = ctx.measureText(o.text).width;
      if (need > room + 1) cut.push(select.id + ": " + o.text + " (" + Math.ceil(need) + "/" + Math.floor(room) + ")");
    }
  }
  return cut;
}"""


async def cut_select_labels(page: Page) -> list[str]:
    """The labels the page's visible selects would cut (empty: every option shows whole)."""
    cut: list[str] = await page.evaluate(_CUT_SELECTS)
    return cut

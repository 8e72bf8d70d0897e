"""End to end in headless Chromium: `cnnkit serve` (run_serve, in a subprocess on a free port of 127.0.0.1) serves the
page; the mouse draws a "1" and a "0"; the page shows the right digit, the bars and every layer's feature maps.

Needs Playwright for Python and a Chromium binary (Debian: `apt-get install chromium`; never `playwright install`).
Set CNNKIT_CHROMIUM to use another binary, CNNKIT_SERVE_SCREENSHOT to also save the screenshot there (the README's
docs/images/serve.png is made that way).
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.serve.drawings import ONE, ZERO


def chromium_binary():
    for candidate in (os.environ.get("CNNKIT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = chromium_binary()
pytestmark = [pytest.mark.slow,  # a browser and a server process start: seconds
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (Debian: apt-get install chromium; "
                                                          "or set CNNKIT_CHROMIUM)")]

# headless=True adds --headless; launch() gives every browser a fresh temporary profile (--user-data-dir), and
# the flags keep it from reaching out (no updates, sync, QUIC or background requests) and from needing a GPU.
LAUNCH_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LAYER_TILES = 6 + 6 + 16 + 16 + 1 + 1 + 1  # c1, s2, c3, s4 maps; c5, f6, output strips


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright for Python")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS)
        yield b
        b.close()


def draw(page, strokes):
    """Draw ``strokes`` (canvas pixels of the 280×280 pad) with the mouse, scaled to the pad's size on the page."""
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280
    for stroke in strokes:
        points = [(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=4)
        page.mouse.up()


def answer_to(page, strokes):
    """Draw, wait for the answer of /api/predict and for the page to show it; returns the shown digit."""
    with page.expect_response(lambda r: r.url.endswith("/api/predict"), timeout=60_000) as info:
        draw(page, strokes)
    assert info.value.status == 200, info.value.text()
    page.wait_for_function("document.getElementById('status').textContent !== 'thinking…'", timeout=30_000)
    return page.locator("#prediction").inner_text().strip()


def rendered_tiles(page):
    """(count, count with a non-zero natural and displayed size) of the feature-map images."""
    return page.evaluate("""() => {
        const imgs = [...document.querySelectorAll('#layers img')];
        const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0
                                    && i.getBoundingClientRect().width > 0 && i.getBoundingClientRect().height > 0);
        return [imgs.length, ok.length];
    }""")


def test_draw_one_and_zero(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1000, "height": 1000})
    foreign, errors = [], []
    page.on("request", lambda r: None if r.url.startswith((server, "data:")) else foreign.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_function("document.getElementById('model-info').textContent.includes('parameters')")
    assert "61,706 parameters" in page.locator("#model-info").inner_text()

    assert answer_to(page, ONE) == "1"
    assert rendered_tiles(page) == [LAYER_TILES, LAYER_TILES]
    headings = page.locator("#layers h3").all_inner_texts()
    assert headings[0].replace("\u00a0", " ").split() == ["features.c1", "Conv2d", "·", "1×6×28×28"]
    assert len(headings) == 7 and headings[-1].startswith("classifier.output")
    assert page.locator("#bars li").count() == 10
    assert page.locator("#bars li.top").inner_text().startswith("1")

    page.locator("#pad").focus()
    page.keyboard.press("Escape")  # the keyboard clears the pad
    assert page.locator("#prediction").inner_text() == "?"
    assert rendered_tiles(page) == [0, 0]

    assert answer_to(page, ZERO) == "0"
    assert rendered_tiles(page) == [LAYER_TILES, LAYER_TILES]
    assert page.locator("#input-image").is_visible()
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("CNNKIT_SERVE_SCREENSHOT"):
        page.screenshot(path=os.environ["CNNKIT_SERVE_SCREENSHOT"], full_page=True)

    page.locator("#clear").click()
    assert page.locator("#prediction").inner_text() == "?"
    assert foreign == [] and errors == []
    page.close()


def test_phone_viewport(server, browser, tmp_path):
    """On a phone-sized screen the page fits the width, the pad can be drawn on with touch-sized controls, and the
    Clear button is reachable with the keyboard."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page.goto(server)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    pad = page.locator("#pad").bounding_box()
    assert pad["x"] >= 0 and pad["x"] + pad["width"] <= 390 and pad["width"] >= 250
    assert answer_to(page, ONE) == "1"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the feature maps wrap
    assert page.locator("#clear").bounding_box()["height"] >= 44
    page.screenshot(path=str(tmp_path / "serve-phone.png"), full_page=True)
    page.locator("#pad").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "clear"
    page.keyboard.press("Enter")
    assert page.locator("#prediction").inner_text() == "?"
    assert not page.locator("#input-image").is_visible()
    page.close()

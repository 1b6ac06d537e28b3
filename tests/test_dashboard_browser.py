"""The dashboard served by `gecko-bench dashboard` and loaded in headless Debian Chromium.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`scripts/ensure_browser.sh` installs them).
Screenshots land in results/ (git-ignored) as artefacts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
RESULTS = Path(__file__).resolve().parent.parent / "results"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1100"]

pytestmark = [
    pytest.mark.assets,
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="Debian chromium/chromium-driver missing: run "
                              "scripts/ensure_browser.sh"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(dashboard_db):
    """`gecko-bench dashboard` on a free localhost port; yields its base URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("gecko-bench")
    proc = subprocess.Popen([str(exe), "dashboard", "--db", str(dashboard_db), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("dashboard did not start:\n" + (proc.stdout.read() or ""))
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, css: str, count: int = 1, timeout: float = 90):
    """Wait until at least `count` elements match `css` and the app has stopped running."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        found = d.find_elements(By.CSS_SELECTOR, css)
        running = d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        return found if len(found) >= count and not running else False

    return WebDriverWait(driver, timeout, poll_frequency=0.3).until(ready)


def test_leaderboard_and_charts_render_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/?page=leaderboard")
    wait_for(browser, '[data-testid="stDataFrame"]')
    charts = wait_for(browser, '[data-testid="stVegaLiteChart"] canvas, '
                               '[data-testid="stVegaLiteChart"] svg')
    assert charts[0].size["width"] > 200 and charts[0].size["height"] > 100
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=stMain] h1").text == "Leaderboard"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body and "Error" not in body
    RESULTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(RESULTS / "dashboard-leaderboard.png"))
    # the grid is drawn on a canvas; its accessible table carries the cell text, filled in a
    # moment after the canvas appears (reading it at once sometimes found it empty)
    from selenium.webdriver.support.ui import WebDriverWait

    def cells(d) -> str:
        grid = d.find_element(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
        text = grid.get_attribute("innerText") + " ".join(
            c.get_attribute("textContent") for c in grid.find_elements(By.CSS_SELECTOR, "td"))
        return text if "minilm-l6" in text and "damaged" in text else False

    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        cells, message="the leaderboard grid never showed minilm-l6 and the damaged copy")


def test_label_strategies_heatmap_renders_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/?page=label-strategies")
    wait_for(browser, '[data-testid="stVegaLiteChart"] canvas, '
                      '[data-testid="stVegaLiteChart"] svg', count=2)
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=stMain] h1").text == "Label strategies"
    browser.save_screenshot(str(RESULTS / "dashboard-label-strategies.png"))
    assert (RESULTS / "dashboard-label-strategies.png").stat().st_size > 10_000

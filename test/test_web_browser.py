"""The teach console in a real browser (headless Debian Chromium driven by Selenium), on the graph
as ``chhnn-perception --web`` starts it (every node in one process, sim scene): wait for boxes, click
an object, type a name, submit; the class list shows it and the next frames label that object with
it.  Twice, with two objects.  The page after the teaches is saved as a screenshot
(``CHHNN_WEB_SCREENSHOT=docs/web-console.png`` writes the README's picture; else a temporary file).
"""

import os
import time
from pathlib import Path

import pytest

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and DRIVER.exists()):
    pytest.skip("the browser test needs Debian's chromium and chromium-driver: apt-get install chromium "
                "chromium-driver (tools/setup.sh installs them when run as root)", allow_module_level=True)
pytest.importorskip("selenium", reason="pip install selenium (the package's [test] extra)")
pytest.importorskip("rclpy")
pytest.importorskip("starlette")
pytest.importorskip("chhnn_ros.sim.scene", reason="the PyBullet scene (chhnn_ros.sim) is needed")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1280,900")


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=options)


def in_view(driver) -> list[dict]:
    """The objects of the frame the page shows: track id, box, label (from its 'In view' list)."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#objects li')].map(li => ({
            track: li.dataset.track === '' ? null : Number(li.dataset.track),
            box: li.dataset.box.split(',').map(Number), label: li.dataset.label}));""")


def click_object(driver, box: list[float]) -> None:
    """Click the centre of ``box`` (image pixels) on the page's canvas, wherever the layout put it."""
    canvas = driver.find_element(By.ID, "view")
    w, h, cw, ch = driver.execute_script(
        "const c = arguments[0], r = c.getBoundingClientRect(); return [c.width, c.height, r.width, r.height];",
        canvas)
    x, y = (box[0] + box[2]) / 2 * cw / w, (box[1] + box[3]) / 2 * ch / h
    ActionChains(driver).move_to_element_with_offset(canvas, int(x - cw / 2), int(y - ch / 2)).click().perform()


def alone(box: list[float], others: list[list[float]]) -> bool:
    """No other box covers this box's centre (a click there selects this object)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return not any(o[0] <= cx <= o[2] and o[1] <= cy <= o[3] for o in others if o != box)


def teach_by_clicking(driver, wait: WebDriverWait, name: str, taken: set[int]) -> int:
    """Select a not yet taught object by clicking it, name it, submit; its track id."""
    objects = wait.until(lambda d: [o for o in in_view(d) if o["track"] is not None and o["track"] not in taken
                                    and alone(o["box"], [p["box"] for p in in_view(d)])])
    target = objects[0]
    click_object(driver, target["box"])
    wait.until(lambda d: d.find_element(By.ID, "teach-name").is_displayed())
    assert f"track {target['track']}" in driver.find_element(By.ID, "teach-target").text
    field = driver.find_element(By.ID, "teach-name")
    field.clear()
    field.send_keys(name)
    driver.find_element(By.ID, "teach-submit").click()
    progress = wait.until(lambda d: (t := d.find_element(By.ID, "teach-progress").text).startswith(f"{name}:") and (
        "learned" in t or "error" in t) and t)  # this teach's final state (not the previous teach's)
    assert f"{name}: learned" in progress, progress
    # the class list shows it, and a later frame labels that object with it
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#classes li[data-label="{name}"]'))
    wait.until(lambda d: any(o["track"] == target["track"] and o["label"] == name for o in in_view(d)))
    return target["track"]


def test_teach_by_clicking_in_the_browser(tmp_path):
    from chhnn_ros.graph import NODES, Graph

    t0 = time.monotonic()
    params = {"camera": {"rate": 5.0}, "encoder": {"device": "cpu"},
              "classifier": {"memory_path": f"{tmp_path}/memory.pt", "teach_samples": 5, "teach_interval": 0.0},
              "web": {"web_port": 0}}
    graph = Graph(tmp_path, params, mode="inprocess", namespace="b", nodes=(*NODES, "web"))
    driver = None
    try:
        url = graph.node("web").server.url
        driver = browser()
        wait = WebDriverWait(driver, 60, poll_frequency=0.2)
        driver.get(url)
        wait.until(lambda d: int(d.find_element(By.ID, "view").get_attribute("data-boxes") or 0) > 0)
        assert driver.find_element(By.ID, "conn").text == "live"
        first = teach_by_clicking(driver, wait, "ball", set())
        second = teach_by_clicking(driver, wait, "brick", {first})
        assert second != first
        classes = [li.get_attribute("data-label") for li in driver.find_elements(By.CSS_SELECTOR, "#classes li")]
        assert classes == ["ball", "brick"]
        assert driver.find_element(By.ID, "db-version").text == "2"
        # each class gets a thumbnail (a crop of an object labelled with it) once a frame labels one
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#classes li img")) == 2)
        wait.until(lambda d: d.execute_script(
            "return [...document.querySelectorAll('#classes img')].every(i => i.complete && i.naturalWidth > 0)"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plot polyline"))  # the confidence plot
        shot = Path(os.environ.get("CHHNN_WEB_SCREENSHOT") or tmp_path / "web-console.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(shot))
        print(f"\nbrowser test: {time.monotonic() - t0:.0f} s; screenshot {shot}")
    finally:
        if driver is not None:
            driver.quit()
        graph.stop()

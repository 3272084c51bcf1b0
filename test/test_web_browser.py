"""The teach console in a real browser (headless Debian Chromium driven by Selenium).

* On the graph as ``chhnn-perception --web`` starts it (every node in one process, sim scene): wait
  for boxes, click an object, type a name, submit; the class list shows it and the next frames label
  that object with it.  Twice, with two objects.  The page after the teaches is saved as a screenshot
  (``CHHNN_WEB_SCREENSHOT=docs/web-console.png`` writes the README's picture; else a temporary file).
* Without ROS, on a tablet-sized window with a token: the layout, the token on every request the page
  makes, teach and forget from the page (what it sends, what it shows).
"""

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and DRIVER.exists()):
    pytest.skip("the browser test needs Debian's chromium and chromium-driver: apt-get install chromium "
                "chromium-driver (tools/setup.sh installs them when run as root)", allow_module_level=True)
pytest.importorskip("selenium", reason="pip install selenium (the package's [test] extra)")
pytest.importorskip("starlette")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from chhnn_ros.web.app import WebSettings, create_app  # noqa: E402
from chhnn_ros.web.server import ConsoleServer  # noqa: E402
from chhnn_ros.web.state import ConsoleState  # noqa: E402

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync")


def browser(size: str = "1280,900") -> webdriver.Chrome:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (*CHROMIUM_ARGS, f"--window-size={size}"):
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
    pytest.importorskip("rclpy")
    pytest.importorskip("chhnn_ros.sim.scene", reason="the PyBullet scene (chhnn_ros.sim) is needed")
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


def test_page_on_a_tablet_with_a_token():
    """No ROS: a console state fed like the web node feeds it, and a fake classifier answering commands."""
    st = ConsoleState()
    sent: list[dict] = []
    learned: set[str] = set()
    image = np.full((240, 320, 3), 200, np.uint8)
    image[40:120, 30:110] = (200, 40, 40)
    image[100:200, 180:300] = (40, 40, 200)
    boxes = {1: [30.0, 40.0, 110.0, 120.0], 2: [180.0, 100.0, 300.0, 200.0]}

    def classifier(command: dict) -> None:
        label = command.get("label", command.get("forget"))
        base = {"views": 3, "database_version": len(learned)}
        if "forget" in command:
            learned.discard(label)
            st.put_teach_status({**base, "state": "forgotten", "label": label, "message": f"forgot {label!r}",
                                 "collected": 0, "needed": 0})
        else:
            for n in (0, 3):
                st.put_teach_status({**base, "state": "collecting", "label": label, "message": f"{n}/5",
                                     "collected": n, "needed": 5})
                time.sleep(0.3)
            learned.add(label)
            st.put_teach_status({**base, "state": "learned", "label": label, "message": "learned", "collected": 5,
                                 "needed": 5, "database_version": len(learned)})
        st.put_classes({"classes": sorted(learned), "teaches": [1] * len(learned),
                        "database_version": len(learned) + (1 if "forget" in command else 0)})

    def publish(text: str) -> None:
        sent.append(json.loads(text))
        threading.Thread(target=classifier, args=(sent[-1],), daemon=True).start()

    stop = threading.Event()

    def camera() -> None:  # frames and objects at 10 Hz; object 2 (track 2) is "lamp" once learned, object 1
        # has no track id
        k = 0
        while not stop.is_set():
            k += 1
            st.put_frame((k, 0), image)
            lamp = "lamp" in learned
            st.put_objects((k, 0), {"objects": [
                {"box": boxes[t], "track_id": t if t == 2 else None, "score": 0.9 if t == 2 and lamp else 0.2,
                 "known": t == 2 and lamp, "label": "lamp" if t == 2 and lamp else "unknown",
                 "nearest": "lamp" if lamp else "", "known_score": 0.5, "detector_class": "thing"} for t in boxes]})
            time.sleep(0.1)

    st.put_classes({"classes": [], "teaches": [], "database_version": 0})
    server = ConsoleServer(create_app(st, WebSettings(token="tab", max_fps=10.0), publish), "127.0.0.1", 0)
    feeder = threading.Thread(target=camera, daemon=True)
    feeder.start()
    driver = browser("820,1180")  # a tablet, portrait
    try:
        wait = WebDriverWait(driver, 30, poll_frequency=0.2)
        driver.get(server.url + "?token=wrong")
        assert "token is needed" in driver.find_element(By.TAG_NAME, "body").text
        driver.get(server.url + "?token=tab")
        wait.until(lambda d: d.find_element(By.ID, "view").get_attribute("data-boxes") == "2")
        assert driver.find_element(By.ID, "conn").text == "live"  # the WebSocket carried the token
        # one column: the side panels below the image, nothing wider than the screen
        canvas = driver.find_element(By.ID, "view").rect
        aside = driver.find_element(By.TAG_NAME, "aside").rect
        assert aside["y"] >= canvas["y"] + canvas["height"] and canvas["width"] > 700
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        # an unknown object before any class: its caption says so
        assert [o["label"] for o in in_view(driver)] == ["unknown", "unknown"]
        # teach track 2 by tapping it
        click_object(driver, boxes[2])
        wait.until(lambda d: d.find_element(By.ID, "teach-name").is_displayed())
        driver.find_element(By.ID, "teach-name").send_keys("lamp\n")  # Enter submits
        wait.until(lambda d: "lamp: learned" in d.find_element(By.ID, "teach-progress").text)
        assert sent == [{"label": "lamp", "track_id": 2}]
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#classes li[data-label="lamp"]'))
        wait.until(lambda d: [o["label"] for o in in_view(d)] == ["unknown", "lamp"])
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#classes li img"))  # thumbnail, with the token
        wait.until(lambda d: d.execute_script("const i = document.querySelector('#classes img');"
                                              "return i.complete && i.naturalWidth > 0"))
        # object 1 has no track id (a detector that does not track): it is taught by its box
        click_object(driver, boxes[1])
        wait.until(lambda d: d.find_element(By.ID, "teach-name").is_displayed())
        assert "box [30, 40, 110, 120]" in driver.find_element(By.ID, "teach-target").text
        driver.find_element(By.ID, "teach-name").send_keys("cup")
        driver.find_element(By.ID, "teach-submit").click()
        wait.until(lambda d: "cup: learned" in d.find_element(By.ID, "teach-progress").text)
        assert sent[-1] == {"label": "cup", "box": boxes[1]}
        # forget: the first press arms the button, the second forgets
        forget = (By.CSS_SELECTOR, '#classes li[data-label="lamp"] button')
        driver.find_element(*forget).click()
        assert driver.find_element(*forget).text == "Forget?" and len(sent) == 2
        driver.find_element(*forget).click()  # found again: a new thumbnail re-renders the list
        wait.until(lambda d: "forget lamp: forgotten" in d.find_element(By.ID, "teach-progress").text)
        assert sent[-1] == {"forget": "lamp"}
        wait.until(lambda d: [li.get_attribute("data-label") for li in d.find_elements(By.CSS_SELECTOR, "#classes li")]
                   == ["cup"])
    finally:
        driver.quit()
        stop.set()
        feeder.join(5)
        server.stop()

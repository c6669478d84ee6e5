"""The serve command's page, driven in a real headless browser: Chromium from Debian's packages,
through Selenium and chromedriver. Set SIAMTRACK_SCREENSHOTS to a folder to keep the screenshots
(the README's come from here: SIAMTRACK_SCREENSHOTS=docs python -m pytest tests/test_web.py)."""

import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from tracker import __version__
from tracker.video import open_source

pytest.importorskip("fastapi", reason="the web page needs fastapi: pip install -e '.[web]'")
uvicorn = pytest.importorskip("uvicorn", reason="the web page needs uvicorn: pip install -e '.[web]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: pip install selenium")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="no Chromium and chromedriver here: apt-get install chromium chromium-driver"
)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from tracker.specs import make_multi_tracker  # noqa: E402
from tracker.web import make_app  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "videos", "bunny.mp4")
BOX = (79, 85, 210, 192)  # the demo's first box, videos/bunny.txt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free localhost port, serving a folder that holds the demo clip."""
    root, work = tmp_path_factory.mktemp("served"), tmp_path_factory.mktemp("work")
    shutil.copy(DEMO, root / "bunny.mp4")
    details = {"tracker": "siamfc", "siamtrack": __version__}  # as the serve command passes them
    app = make_app(str(root), str(work), lambda: make_multi_tracker("siamfc"), max_upload=1 << 20, details=details)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", work
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    yield driver
    driver.quit()


def screenshot(driver, name):
    folder = os.environ.get("SIAMTRACK_SCREENSHOTS")
    if folder:
        driver.save_screenshot(os.path.join(folder, name))


def wait_for(driver, condition, seconds=120):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition(d))


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def drag_box(driver, box):
    """Press at the box's top-left corner on the frame, drag to its bottom-right, release."""
    overlay = driver.find_element(By.ID, "overlay")
    x, y, w, h = box
    width, height = overlay.size["width"], overlay.size["height"]
    # Selenium's offsets count from the element's centre.
    ActionChains(driver).move_to_element_with_offset(
        overlay, x - width // 2, y - height // 2
    ).click_and_hold().move_by_offset(w, h).release().perform()


def shown(driver):
    """Whether the frame asked for is on the page, at 640 px, with the drawing layer over it."""
    return driver.execute_script(
        "const img = document.getElementById('frame');"
        "return img.complete && img.naturalWidth === 640 && document.getElementById('overlay').width === 640"
    )


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def test_draw_a_box_track_to_the_end_correct_and_download(server, browser, tmp_path):
    base, _ = server
    browser.get(base + "/")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#files option"))
    Select(browser.find_element(By.ID, "files")).select_by_visible_text("bunny.mp4")
    browser.find_element(By.ID, "open").click()
    wait_for(browser, shown)
    assert "bunny.mp4: 640x360, 116 frames" in text(browser, "info")
    drag_box(browser, BOX)
    browser.find_element(By.ID, "track").click()
    wait_for(browser, lambda d: text(d, "status").startswith("done"))
    assert "116 / 116 frames" in text(browser, "status")
    wait_for(browser, lambda d: text(d, "frame-label").startswith("115 /") and shown(d))
    screenshot(browser, "web_done.png")

    links = {
        a.get_attribute("id"): a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")
    }
    assert set(links) == {"download-mp4", "download-txt", "download-mot", "download-json", "download-csv"}
    video = tmp_path / "tracked.mp4"
    video.write_bytes(fetch(links["download-mp4"]))
    with open_source(str(video)) as frames:
        assert sum(1 for _ in frames) == 116
    boxes = np.loadtxt(fetch(links["download-txt"]).decode().splitlines(), delimiter=",")
    assert boxes.shape == (116, 4)
    np.testing.assert_allclose(boxes[0], BOX, atol=1.5)  # the box as dragged, to the pixel
    mot = np.loadtxt(fetch(links["download-mot"]).decode().splitlines(), delimiter=",")
    assert mot.shape == (116, 10) and mot[:, 0].tolist() == list(range(1, 117)) and (mot[:, 1] == 1).all()
    np.testing.assert_allclose(mot[:, 2:6], boxes, atol=0.01)

    # A reload finds the job again by the id in the address.
    browser.refresh()
    wait_for(browser, lambda d: text(d, "status").startswith("done") and d.find_elements(By.ID, "download-mp4"))

    # Correct frame 60: scrub there, drag the target's box again, track on from there.
    scrub = browser.find_element(By.ID, "scrub")
    browser.execute_script("arguments[0].value = 60; arguments[0].dispatchEvent(new Event('input'))", scrub)
    wait_for(browser, lambda d: text(d, "frame-label").startswith("60 /") and shown(d))
    corrected = (100, 60, 150, 150)
    drag_box(browser, corrected)
    browser.find_element(By.ID, "correct").click()
    assert not browser.find_elements(By.ID, "download-txt")  # until the corrected run is written
    wait_for(browser, lambda d: text(d, "status").startswith("done") and d.find_elements(By.ID, "download-txt"))
    job = browser.execute_script("return job")
    series = json.loads(fetch(f"{base}/api/jobs/{job}/series"))
    assert len(series["boxes"]) == 116
    np.testing.assert_allclose(series["boxes"][60][0], corrected, atol=1.5)
    np.testing.assert_allclose(series["boxes"][0][0], BOX, atol=1.5)  # the frames before it are kept
    again = np.loadtxt(fetch(f"{base}/api/jobs/{job}/files/txt").decode().splitlines(), delimiter=",")
    np.testing.assert_allclose(again[60], series["boxes"][60][0], atol=0.01)  # the files follow the correction


def test_a_text_file_uploaded_is_a_clear_error(server, browser, tmp_path):
    base, work = server
    browser.get(base + "/")
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video at all\n")
    browser.find_element(By.ID, "upload").send_keys(str(notes))
    wait_for(browser, lambda d: text(d, "error"), 30)
    assert text(browser, "error") == "notes.mp4 is not a video FFmpeg can read; upload a video file, e.g. an MP4"
    assert not os.listdir(work / "uploads")  # nothing of it kept


def post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_files_outside_the_folder_served_are_refused(server):
    base, _ = server
    status, body = post(base + "/api/videos/path", {"path": "../" * 8 + "etc/passwd"})
    assert status == 400 and "outside the folder served" in body["error"]


def test_a_stopped_job_leaves_no_files(server):
    base, work = server
    _, video = post(base + "/api/videos/path", {"path": "bunny.mp4"})
    _, job = post(base + "/api/jobs", {"video": video["id"], "boxes": [list(BOX), [300, 50, 60, 60]]})
    post(f"{base}/api/jobs/{job['id']}/pause", {})
    status, state = post(f"{base}/api/jobs/{job['id']}/stop", {})
    deadline = time.time() + 30
    while state["state"] not in ("stopped", "done") and time.time() < deadline:
        time.sleep(0.05)
        state = json.loads(fetch(f"{base}/api/jobs/{job['id']}"))
    assert state["state"] == "stopped" and state["files"] == []
    assert not (work / "jobs").exists() or job["id"] not in os.listdir(work / "jobs")
    status, body = post(base + "/api/jobs", {"video": video["id"], "boxes": [[900, 900, 10, 10]]})
    assert status == 400 and "outside the 640x360 frame" in body["error"]


def test_an_upload_over_the_limit_is_refused_and_not_kept(server, tmp_path):
    base, work = server
    boundary = "siamtrack"
    big = b"\0" * (3 << 20)  # the fixture's limit is 1 MB
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        base + "/api/videos/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=60)
    assert e.value.code == 400
    assert json.loads(e.value.read())["error"].startswith("big.mp4 is larger than the 1 MB upload limit")
    assert not [n for n in os.listdir(work / "uploads") if n.endswith(".mp4")]


def test_two_jobs_at_once_keep_apart(server):
    """As two tabs or users would: each job tracks its own boxes, and neither sees the other's."""
    base, _ = server
    _, video = post(base + "/api/videos/path", {"path": "bunny.mp4"})
    starts = [[list(BOX)], [[400, 40, 80, 60], [300, 200, 50, 50]]]
    ids = [post(base + "/api/jobs", {"video": video["id"], "boxes": boxes})[1]["id"] for boxes in starts]
    deadline = time.time() + 120
    while time.time() < deadline:
        states = [json.loads(fetch(f"{base}/api/jobs/{i}"))["state"] for i in ids]
        if all(state == "done" for state in states):
            break
        time.sleep(0.1)
    assert states == ["done", "done"]
    for i, boxes in zip(ids, starts):
        series = json.loads(fetch(f"{base}/api/jobs/{i}/series"))
        assert len(series["boxes"]) == 116 and series["boxes"][0] == boxes
        written = json.loads(fetch(f"{base}/api/jobs/{i}/files/json"))
        assert (written["source"], written["tracker"], written["siamtrack"]) == ("bunny.mp4", "siamfc", __version__)

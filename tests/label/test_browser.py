"""The labelling page in a real browser (headless Chromium via Playwright) against the real server.

Keyboard only: ten items answered with the keys 1-3, one answer held back while saving fails and
across a reload (it must stay "waiting to be saved" and then be saved with its uid), an undo of a
saved answer from before the reload (the item comes back and is answered again), and markup in a
text item shown as text. The answers are then read back through GET /api/export. A pairs project:
both items of each pair side by side under "Same group?", answered with the keys 1 and 2.

The browser is Debian's ``chromium-headless-shell`` (or ``chromium``); without it the test skips,
unless ACTIVELAB_REQUIRE_BROWSER=1 (``make test`` sets it and installs the package).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TOKEN = "browser-test-token-42"
CLASSES = ("cats", "dogs", "birds")
MARKUP = "<script>alert(1)</script>"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
#: Where Debian's packages put the browser (the ELF binaries first; /usr/bin holds shell wrappers).
BROWSER_PATHS = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
)
_TOPICS = {
    0: ["the cat purrs on the sofa", "a kitten chases yarn", "cats nap in the sun", "the tabby cat meows"],
    1: ["the dog barks at the mailman", "a puppy fetches the ball", "dogs wag their tails", "the hound sniffs the trail"],
    2: ["the bird sings at dawn", "a sparrow builds a nest", "birds fly south in autumn", "the parrot repeats words"],
}


def find_browser() -> str | None:
    """The Chromium binary to drive: $ACTIVELAB_BROWSER, else Debian's known locations, else None."""
    given = os.environ.get("ACTIVELAB_BROWSER")
    if given:
        return given if os.access(given, os.X_OK) else None
    for path in BROWSER_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


def _require_or_skip(reason: str) -> None:
    if os.environ.get("ACTIVELAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; ACTIVELAB_REQUIRE_BROWSER=1 is set: `make test` installs Debian's "
                    "chromium-headless-shell and playwright (or set ACTIVELAB_BROWSER to a Chromium binary).")
    pytest.skip(f"{reason} (`make test` installs it: apt-get install chromium-headless-shell)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _write_texts(path: Path, n: int = 60) -> list[str]:
    """n short texts about three topics, every one carrying markup that must show as text."""
    texts = []
    for i in range(n):
        topic = _TOPICS[i % 3]
        texts.append(f"#{i}: {topic[i % 4]} & more, {MARKUP} <b>not bold</b>")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text"])
        writer.writerows([t] for t in texts)
    return texts


@contextmanager
def _serving(directory: Path, log_path: Path) -> Iterator[str]:
    """`python -m activelab label serve DIRECTORY` on a free loopback port; yields its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "activelab", "label", "serve", str(directory), "--port", str(port),
             "--token", TOKEN],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with code {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                _get(f"{base}/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer within 60 s:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path):
    """A 60-text project served by `python -m activelab label serve` on a free loopback port."""
    from activelab.label.create import init_project

    texts = _write_texts(tmp_path / "texts.csv")
    init_project(tmp_path / "proj", tmp_path / "texts.csv", classes=CLASSES, model="logreg", batch=20)
    with _serving(tmp_path / "proj", tmp_path / "server.log") as base:
        yield base, texts


@pytest.fixture
def chromium() -> str:
    """The browser binary (checked before the server starts: a skip costs nothing)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require_or_skip("the Python package playwright is not installed")
    path = find_browser()
    if path is None:
        _require_or_skip("no Chromium found (looked at $ACTIVELAB_BROWSER, " + ", ".join(BROWSER_PATHS) + ")")
    return path


def test_keyboard_labelling_saves_every_answer_and_shows_markup_as_text(chromium, served):
    from playwright.sync_api import sync_playwright

    base, texts = served
    dialogs: list[str] = []
    errors: list[str] = []
    expected: dict[str, int] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(30_000)  # generous: CI machines are small and may be busy
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_selector('#item[data-state="item"]')
            page.wait_for_selector("#classes button:not([disabled])")
            assert page.locator("#classes button kbd").all_text_contents() == ["1", "2", "3"]
            assert page.locator("#classes button .name").all_text_contents() == list(CLASSES)
            annotator = page.input_value("#annotator")
            assert annotator

            def shown() -> str:
                item_id = page.get_attribute("#item", "data-item-id")
                assert item_id, "no item shown"
                # text items are set as text: the markup is shown verbatim and nothing is parsed
                assert page.text_content("#item .text") == texts[int(item_id)]
                assert page.locator("#item script, #item b").count() == 0
                return item_id

            def answer(key: str) -> str:
                item_id = shown()
                page.keyboard.press(key)
                expected[item_id] = int(key) - 1
                page.wait_for_function("id => document.querySelector('#item').dataset.itemId !== id", arg=item_id)
                return item_id

            for i in range(9):
                answer(str(i % 3 + 1))
            page.wait_for_selector('#pending[data-count="0"]')

            # saving fails: the answer waits in localStorage, survives a reload, and is sent at load
            page.route("**/api/answers", lambda route: route.abort())
            last = answer("1")
            page.wait_for_selector('#pending[data-count="1"]')
            assert page.text_content("#pending") == "1 waiting to be saved"
            page.reload()
            page.wait_for_selector('#item[data-state="item"]')
            assert page.get_attribute("#pending", "data-count") == "1"
            assert page.get_attribute("#item", "data-item-id") != last  # answered, though not saved yet
            page.unroute("**/api/answers")
            page.wait_for_selector('#pending[data-count="0"]')

            # undo (key z) of an answer saved before the reload: the item comes back; answer it again
            page.wait_for_selector("#classes button:not([disabled])")
            page.keyboard.press("z")
            page.wait_for_function("id => document.querySelector('#item').dataset.itemId === id", arg=last)
            shown()
            page.keyboard.press("3")
            expected[last] = 2
            page.wait_for_function("id => document.querySelector('#item').dataset.itemId !== id", arg=last)
            page.wait_for_selector('#pending[data-count="0"]')
            page.wait_for_function("document.querySelector('#st-answers').textContent === '10'")
        finally:
            browser.close()

    answers = _get(f"{base}/api/export")["answers"]
    assert len(expected) == 10
    assert {a["id"]: a["label"] for a in answers} == expected
    assert len(answers) == 10 and {a["annotator"] for a in answers} == {annotator}
    assert len({a["uid"] for a in answers}) == 10
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert errors == [], f"errors in the page: {errors}"


def test_pairs_show_both_items_and_the_keys_1_and_2_answer_different_and_same(chromium, tmp_path):
    import numpy as np
    from playwright.sync_api import sync_playwright

    from activelab.label.create import init_project

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "blobs.npz", X=(rng.normal(size=(30, 4)) + 4.0 * np.eye(3, 4)[np.arange(30) % 3]).astype(np.float32))
    init_project(tmp_path / "proj", tmp_path / "blobs.npz", task="pairs", n_clusters=3, batch=10)
    expected: dict[str, int] = {}
    errors: list[str] = []
    with _serving(tmp_path / "proj", tmp_path / "server.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(30_000)  # generous: CI machines are small and may be busy
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_selector('#item[data-state="item"][data-kind="pair"]')
            page.wait_for_selector("#classes button:not([disabled])")
            assert page.locator("#classes button kbd").all_text_contents() == ["1", "2"]
            assert page.locator("#classes button .name").all_text_contents() == ["different", "same"]
            assert page.text_content("#item .question") == "Same group?"
            assert page.text_content("#item-heading").startswith("Pair")
            for key in "12121":
                item_id = page.get_attribute("#item", "data-item-id")
                a, b = item_id.split("~")
                captions = page.locator("#item .side .side-id").all_text_contents()
                assert captions == [f"A · {a}", f"B · {b}"]
                assert page.locator("#item .side table.features").count() == 2  # both items, side by side
                boxes = [page.locator(f'#item .side[data-side="{e}"]').bounding_box() for e in "ab"]
                assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] and abs(boxes[0]["y"] - boxes[1]["y"]) < 1
                page.keyboard.press(key)
                expected[item_id] = int(key) - 1
                page.wait_for_function("id => document.querySelector('#item').dataset.itemId !== id", arg=item_id)
            page.wait_for_selector('#pending[data-count="0"]')
            page.set_viewport_size({"width": 420, "height": 900})  # a narrow screen stacks the two items
            boxes = [page.locator(f'#item .side[data-side="{e}"]').bounding_box() for e in "ab"]
            assert boxes[0]["y"] + boxes[0]["height"] <= boxes[1]["y"]
            answers = _get(f"{base}/api/export")["answers"]
        finally:
            browser.close()
    assert {a["id"]: a["label"] for a in answers} == expected and len(answers) == 5
    assert errors == [], f"errors in the page: {errors}"

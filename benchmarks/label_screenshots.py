"""Screenshots of the labelling page for the docs: docs/img/label_page.png and docs/img/label_progress.png.

Makes a small image project (shapes drawn with Pillow: circles, squares, triangles), serves it
with `python -m activelab label serve` on a free loopback port, answers items through the JSON
API in rounds (waiting for the trainer's new model version after each, so the progress panel
has a learning curve), then opens the page in headless Chromium (Playwright, Debian's
chromium-headless-shell) at 1200x800 and writes:

- label_page.png: the whole page with an image item;
- label_progress.png: the progress panel alone (an element screenshot).

Usage: python benchmarks/label_screenshots.py [--out docs/img] [--rounds 7] [--browser PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "screenshots-token-1"
CLASSES = ("circle", "square", "triangle")
BROWSER_PATHS = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def find_browser(given: str | None) -> str:
    for path in ([given] if given else []) + [os.environ.get("ACTIVELAB_BROWSER", "")] + list(BROWSER_PATHS):
        if path and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if found is None:
        raise SystemExit("no Chromium found: apt-get install chromium-headless-shell (or pass --browser PATH)")
    return found


def draw_shapes(folder: Path, n: int, seed: int = 0, size: int = 320) -> dict[str, int]:
    """Draw n images of one shape each (antialiased: drawn at 4x, then downsampled); returns {item id: class}."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    big = 4 * size
    for i in range(n):
        label = int(rng.integers(len(CLASSES)))
        back = tuple(int(v) for v in rng.integers(215, 250, size=3))
        fill = tuple(int(v) for v in rng.integers(20, 180, size=3))
        img = Image.new("RGB", (big, big), back)
        draw = ImageDraw.Draw(img)
        r = big * rng.uniform(0.22, 0.34)
        cx, cy = big * rng.uniform(0.4, 0.6, size=2)
        if CLASSES[label] == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        elif CLASSES[label] == "square":
            draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
        else:
            draw.polygon([(cx, cy - r * 1.1), (cx - r * 1.1, cy + r * 0.9), (cx + r * 1.1, cy + r * 0.9)], fill=fill)
        name = f"shape_{i:03d}.png"
        img.resize((size, size), Image.Resampling.LANCZOS).save(folder / name, optimize=True)
        truth[name] = label
    return truth


def api(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_version(base: str, above: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = api(base, "/api/status")
        if status["model"] and status["model"]["version"] > above:
            return status
        if time.monotonic() > deadline:
            raise SystemExit(f"the trainer made no model version after {above} within {timeout:.0f} s")
        time.sleep(0.3)


def shrink_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    parser.add_argument("--items", type=int, default=150, help="images in the project")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of 10 answers through the API")
    parser.add_argument("--browser", help="the Chromium binary (default: Debian's chromium-headless-shell)")
    args = parser.parse_args()
    browser_path = find_browser(args.browser)
    from playwright.sync_api import sync_playwright

    from activelab.label.create import init_project

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="activelab-shots-") as tmp:
        work = Path(tmp)
        truth = draw_shapes(work / "shapes", args.items)
        init_project(work / "proj", work / "shapes", classes=CLASSES, model="logreg", batch=20)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = work / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "activelab", "label", "serve", str(work / "proj"), "--port", str(port),
                 "--token", TOKEN], stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status = api(base, "/api/status")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"the server did not start:\n{log_path.read_text(errors='replace')}") from None
                    time.sleep(0.2)
            version = status["model"]["version"] if status["model"] else 0
            for r in range(args.rounds):
                items = api(base, f"/api/next?n=10&annotator=bench{r % 2}")["items"]
                answers = [{"id": it["id"], "label": truth[it["id"]], "uid": str(uuid.uuid4())} for it in items]
                api(base, "/api/answers", {"annotator": f"bench{r % 2}", "answers": answers})
                status = wait_for_version(base, version)
                version = status["model"]["version"]
                cv = status["model"]["cv_accuracy"]
                print(f"round {r + 1}: {status['n_answers']} answers, model v{version} ({status['model']['phase']}), "
                      f"cv accuracy {'n/a' if cv is None else f'{cv:.3f}'}")
            args.out.mkdir(parents=True, exist_ok=True)
            page_png, progress_png = args.out / "label_page.png", args.out / "label_progress.png"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1200, "height": 800}, color_scheme="light")
                    page.add_init_script("localStorage.setItem('activelab.annotator', JSON.stringify('ada'))")
                    page.goto(f"{base}/?token={TOKEN}")
                    page.wait_for_selector('#item[data-kind="image"] img')
                    page.wait_for_function("() => { const i = document.querySelector('#item img'); "
                                           "return i && i.complete && i.naturalWidth > 0; }")
                    page.wait_for_selector("#curve svg path.line")
                    page.wait_for_selector("#classes button:not([disabled])")
                    page.screenshot(path=str(page_png))
                    page.locator("#progress").screenshot(path=str(progress_png))
                finally:
                    browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    for path in (page_png, progress_png):
        shrink_png(path)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size // 1024} KiB)")
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

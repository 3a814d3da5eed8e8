"""The labelling server: a plain HTML page and a JSON API over a project's store (Starlette, ASGI).

Every request needs the project's token, as ``Authorization: Bearer T`` or ``?token=T`` (the
page passes it along); compared in constant time. Requests never train: the background trainer
(:mod:`activelab.label.worker`) runs in its own process, which this server starts, watches and
restarts if it crashes. Handlers are plain functions that Starlette runs in its thread pool; each
talks to SQLite through the store, whose writes are committed before the response is sent.

API (the page uses it, so can scripts):

- ``GET /api/next?n=N&annotator=NAME`` → ``{"items": [{"id", "kind", "text"?, "image"?,
  "features"?, "lease_until", "score"}]}``: up to N items leased to that annotator; in a pairs
  project each is a pair ``{"id", "kind": "pair", "a": ITEM, "b": ITEM, "lease_until", "score"}``
  whose ``a`` and ``b`` are the two items as a single item is shown (text, image URL or features);
- ``POST /api/answers`` with ``{"annotator": NAME, "answers": [{"id": ID, "label": INT, "uid": STR}]}``
  (label −1 = skip, −2 = unsure) → ``{"stored": n, "duplicates": m}`` once stored;
- ``POST /api/undo`` with ``{"annotator": NAME, "uid": STR}`` → the answer it cancelled (or null);
- ``POST /api/release`` with ``{"annotator": NAME, "ids": [ID, ...]}`` → ``{"released": n}``: give
  leased items back before their lease expires (a renamed annotator, a closed page);
- ``GET /api/status``: counts per class, the model versions (with cross-validated accuracy; a
  pairs project: the number of clusters, ``n_clusters``), the queue and the trainer's state;
- ``GET /api/export`` → ``{"answers": [{"id", "label", "kind", "annotator", "uid", "time"}]}``;
- ``GET /api/items/{id}/image``: an image item's file.

Errors are 4xx JSON ``{"error": message, "field": name}``: a bad or missing token (401), a
malformed body or parameter (400), an unknown id (404), an item leased to someone else or a uid
reused for another answer (409), a label out of range (422).
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import json
import logging
import math
import multiprocessing
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .project import Project

__all__ = ["WorkerSupervisor", "create_app", "new_token"]

log = logging.getLogger(__name__)
_STATIC = Path(__file__).parent / "static"
_MAX_BODY = 1 << 20  # 1 MiB of JSON per request
_MAX_FEATURES_SHOWN = 64
# The page loads nothing from elsewhere, runs only its own script and may not be framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def new_token() -> str:
    """A random URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


class HTTPError(Exception):
    """An error answered as ``{"error": message, "field": field}`` with ``status``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _error(status: int, message: str, field: str | None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


class WorkerSupervisor:
    """Starts the trainer process, restarts it when it dies, and stops it with the server.

    The trainer is ``python -m activelab.label.worker DIR``; it also ends by itself when this
    process disappears (kill -9 included), so no trainer outlives its server.
    """

    def __init__(self, directory: Path, *, restart_delay: float = 2.0) -> None:
        self.directory = directory
        self.restart_delay = restart_delay
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self) -> None:
        with open(self.directory / "worker.stderr", "ab") as err:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "activelab.label.worker", str(self.directory)], stdout=subprocess.DEVNULL, stderr=err,
            )

    def _watch(self) -> None:
        while not self._stop.is_set():
            proc = self.process
            if proc is not None and proc.poll() is not None:
                self.last_exit = proc.returncode
                log.error("the trainer exited with code %s; restarting it in %.0f s", proc.returncode, self.restart_delay)
                if self._stop.wait(self.restart_delay):
                    return
                self.restarts += 1
                self._spawn()
            self._stop.wait(0.5)

    def start(self) -> None:
        """Start the trainer and the watcher thread."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="trainer-watch")
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and end the trainer."""
        self._stop.set()
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=2)

    @property
    def alive(self) -> bool:
        """Whether the trainer process is running."""
        return self.process is not None and self.process.poll() is None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise HTTPError(400, f"{name} must be an integer, got {raw!r}.", name) from err
    if not lo <= value <= hi:
        raise HTTPError(400, f"{name} must lie in [{lo}, {hi}], got {value}.", name)
    return value


def _annotator(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or not value.isprintable():
        raise HTTPError(400, f"annotator must be a name of 1-100 printable characters, got {value!r}.", "annotator")
    return value.strip()


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_BODY:
        raise HTTPError(413, f"the body holds {len(body)} bytes; send at most {_MAX_BODY} per request.", "body")
    try:
        data = json.loads(body or b"null")
    except json.JSONDecodeError as err:
        raise HTTPError(400, f"the body is not JSON ({err.msg} at position {err.pos}).", "body") from err
    if not isinstance(data, dict):
        raise HTTPError(400, "the body must be a JSON object.", "body")
    return data


def create_app(directory: str | Path, token: str, *, start_worker: bool = True) -> Starlette:
    """The ASGI app of the project in ``directory``, guarded by ``token``.

    Args:
        directory: The project directory (``activelab label init``).
        token: Every request must carry it.
        start_worker: Start (and supervise) the background trainer with the app.
    """
    project = Project.open(directory)
    store, config = project.store, project.config
    supervisor = WorkerSupervisor(project.directory) if start_worker else None
    data_root = Path(config.data)

    def authorised(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        given = given[7:] if given.lower().startswith("bearer ") else request.query_params.get("token", "")
        return hmac.compare_digest(given.encode(), token.encode())

    def guarded(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        import inspect

        async def endpoint(request: Request) -> Response:
            if not authorised(request):
                return _error(401, "a valid token is required: send `Authorization: Bearer <token>` or ?token=<token>.", "token")
            try:
                if inspect.iscoroutinefunction(fn):
                    return await fn(request)  # type: ignore[no-any-return]
                from starlette.concurrency import run_in_threadpool

                return await run_in_threadpool(fn, request)
            except HTTPError as err:
                return _error(err.status, err.message, err.field)
            except Exception as err:  # a store error becomes its 4xx; anything else a 500 with its message
                status = getattr(err, "status", None)
                if isinstance(status, int) and 400 <= status < 500:
                    return _error(status, str(err), getattr(err, "field", None))
                log.exception("request %s %s failed", request.method, request.url.path)
                return _error(500, f"{type(err).__name__}: {err}", None)

        return endpoint

    def item_json(item: dict[str, Any], bases: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": item["id"], "kind": item["kind"], "lease_until": item.get("lease_until"),
                               "score": item.get("score")}
        if item["kind"] == "pair":
            for end in ("a", "b"):
                base = (bases or {}).get(int(item[end])) or store.items_by_index([int(item[end])])[0]
                out[end] = item_json(base)
        elif item["kind"] == "text":
            out["text"] = item.get("text")
        elif item["kind"] == "image":
            out["image"] = f"/api/items/{quote(str(item['id']), safe='/')}/image"
        else:
            row = project.features[int(item["idx"])][:_MAX_FEATURES_SHOWN]
            out["features"] = [round(float(v), 6) for v in row]
        return out

    def next_items(request: Request) -> Response:
        n = _int_param(request, "n", 10, 1, 200)
        annotator = _annotator(request.query_params.get("annotator"))
        items = store.lease(annotator, n, seconds=config.lease_seconds)
        ends = sorted({int(i[end]) for i in items if i["kind"] == "pair" for end in ("a", "b")})
        bases = {int(b["idx"]): b for b in store.items_by_index(ends)} if ends else {}
        return JSONResponse({"items": [item_json(i, bases) for i in items]})

    async def answers(request: Request) -> Response:
        data = await _json_body(request)
        annotator = _annotator(data.get("annotator"))
        raw = data.get("answers")
        if not isinstance(raw, list) or not raw:
            raise HTTPError(400, "answers must be a non-empty list of {id, label, uid}.", "answers")
        parsed = []
        for i, a in enumerate(raw):
            if not isinstance(a, dict):
                raise HTTPError(400, f"answers[{i}] must be an object {{id, label, uid}}.", "answers")
            missing = [k for k in ("id", "label", "uid") if k not in a]
            if missing:
                raise HTTPError(400, f"answers[{i}] lacks {missing}.", missing[0])
            label = a["label"]
            if isinstance(label, bool) or not isinstance(label, int):
                raise HTTPError(422, f"answers[{i}].label must be an integer class index, got {label!r}.", "label")
            if not isinstance(a["uid"], str):
                raise HTTPError(400, f"answers[{i}].uid must be a string, got {a['uid']!r}.", "uid")
            parsed.append((str(a["id"]), int(label), a["uid"]))
        from starlette.concurrency import run_in_threadpool

        results = await run_in_threadpool(store.add_answers, annotator, parsed)
        duplicates = sum(1 for r in results if r.get("duplicate"))
        return JSONResponse({"stored": len(results) - duplicates, "duplicates": duplicates})

    async def release(request: Request) -> Response:
        data = await _json_body(request)
        annotator = _annotator(data.get("annotator"))
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
            raise HTTPError(400, "ids must be a list of item ids.", "ids")
        from starlette.concurrency import run_in_threadpool

        released = await run_in_threadpool(store.release, annotator, [str(i) for i in ids])
        return JSONResponse({"released": released})

    async def undo(request: Request) -> Response:
        data = await _json_body(request)
        annotator = _annotator(data.get("annotator"))
        uid = data.get("uid")
        if not isinstance(uid, str) or not uid:
            raise HTTPError(400, "uid must be a non-empty string (the undo's own id, for safe retries).", "uid")
        from starlette.concurrency import run_in_threadpool

        undone = await run_in_threadpool(store.undo_last, annotator, uid)
        return JSONResponse({"undone": undone})

    def status(request: Request) -> Response:
        models = store.models()
        latest = models[-1] if models else None
        history = [
            {"version": m["version"], "n_labelled": m["n_labelled"], "cv_accuracy": m["metrics"].get("cv_accuracy"),
             "time": m["time"]}
            for m in models
        ]
        body: dict[str, Any] = {
            "task": config.task,
            "classes": list(config.classes),
            "n_items": store.n_items,
            "n_answers": store.answer_count(),
            "per_class": store.per_class_counts(),
            "model": None if latest is None else {
                "version": latest["version"], "n_labelled": latest["n_labelled"],
                "cv_accuracy": latest["metrics"].get("cv_accuracy"), "phase": latest["info"].get("phase"),
                "strategy": latest["info"].get("strategy"), "time": latest["time"],
            },
            "history": history[-200:],
            "queue": store.queue_info(),
            "trainer": None if supervisor is None else {
                "alive": supervisor.alive, "restarts": supervisor.restarts, "last_exit": supervisor.last_exit,
            },
            "time": time.time(),
        }
        if config.task == "pairs":
            metrics = {} if latest is None else latest["metrics"]
            body["n_clusters"] = metrics.get("n_clusters")
            body["n_pairs"] = store.n_pair_items()
            if body["model"] is not None:
                body["model"].update(n_clusters=metrics.get("n_clusters"), objective=metrics.get("objective"),
                                     ari=metrics.get("ari"))
            for h, m in zip(body["history"], models[-200:], strict=True):
                h.update(n_clusters=m["metrics"].get("n_clusters"), ari=m["metrics"].get("ari"))
        return JSONResponse(_finite(body))

    def export(request: Request) -> Response:
        return JSONResponse({"answers": store.export()})

    def image(request: Request) -> Response:
        from .data import ItemRecord, image_bytes

        item_id = request.path_params["item_id"]
        item = store.item(item_id)
        if item["kind"] != "image":
            raise HTTPError(404, f"item {item_id!r} is not an image.", "id")
        data, media = image_bytes(data_root, ItemRecord(id=item["id"], kind="image", path=item["path"]))
        return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    def page(request: Request) -> Response:
        if not authorised(request):
            return HTMLResponse(
                "<!doctype html><title>activelab label</title><p>This page needs its token: open the address that "
                "<code>activelab label serve</code> printed (it ends in <code>?token=...</code>).</p>",
                status_code=401, headers=_PAGE_HEADERS,
            )
        return FileResponse(_STATIC / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        path = _STATIC / name
        if name not in {p.name for p in _STATIC.iterdir()} or not path.is_file():
            return _error(404, f"no static file {name!r}.", "name")
        return FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything loaded so far (numpy, torch, the app) lives as long as the server: move it out of
        # the collector's reach, so a full collection does not stall a request (~90 ms with torch loaded).
        gc.collect()
        gc.freeze()
        if supervisor is not None:
            supervisor.start()
        try:
            yield
        finally:
            if supervisor is not None:
                supervisor.stop()

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/next", guarded(next_items)),
        Route("/api/answers", guarded(answers), methods=["POST"]),
        Route("/api/undo", guarded(undo), methods=["POST"]),
        Route("/api/release", guarded(release), methods=["POST"]),
        Route("/api/status", guarded(status)),
        Route("/api/export", guarded(export)),
        Route("/api/items/{item_id:path}/image", guarded(image)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.project = project
    app.state.supervisor = supervisor
    return app


def _finite(value: Any) -> Any:
    """JSON has no NaN: replace non-finite floats by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def serve(directory: str | Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Run the server until interrupted (uvicorn, one process; the trainer in its own)."""
    import uvicorn

    token = token or new_token()
    app = create_app(directory, token)
    multiprocessing.set_start_method("spawn", force=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

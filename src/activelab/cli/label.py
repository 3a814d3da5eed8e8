"""``activelab label``: label with people: create a project, serve the page, or work without a browser."""

from __future__ import annotations

import csv
import ipaddress
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import console, err_console, user_errors

__all__ = ["label_app"]

label_app = typer.Typer(help="Label with people: a browser app driven by a strategy, training in the background.",
                        no_args_is_help=True)

_TASK_HELP = "classify: a class per item; pairs: 'same group?' about pairs of items."


@label_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="The project directory to create.")],
    data: Annotated[Path, typer.Option(help="A folder of images, a CSV/JSONL with a text column, or .npz/.csv features.")],
    classes: Annotated[str | None, typer.Option(help="Class names, comma-separated (default: found in the data); with "
                                                  "--task pairs: the groups the data may come labelled with (optional).")] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy that chooses what to ask once every class has a label "
                                                      "(default margin); with --task pairs a pair strategy (default maxexp).")] = None,
    model: Annotated[str, typer.Option(help="Model trained on the feature rows (activelab list models).")] = "mlp",
    features: Annotated[str, typer.Option(help="auto, pixels, tfidf, minilm, or module:function (your encoder).")] = "auto",
    task: Annotated[str, typer.Option(help=_TASK_HELP)] = "classify",
    text_column: Annotated[str | None, typer.Option(help="The text column of a CSV/JSONL file.")] = None,
    label_column: Annotated[str | None, typer.Option(help="The column with labels already given (empty = unlabelled).")] = None,
    batch: Annotated[int, typer.Option(help="Items the trainer queues per refresh.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the strategy's and the model's random streams.")] = 0,
    n_clusters: Annotated[int | None, typer.Option(help="--task pairs: clusters of the k-means prior (default: the "
                                                        "number of --classes, else 10).")] = None,
) -> None:
    """Create a labelling project from your data: items, feature rows, the store and a first queue."""
    from ..label.create import init_project

    with user_errors(validation=True):
        names = tuple(c.strip() for c in classes.split(",") if c.strip()) if classes else None
        project = init_project(
            directory, data, classes=names, strategy=strategy, model=model, features=features, task=task,
            text_column=text_column, label_column=label_column, batch=batch, seed=seed,
            **({} if n_clusters is None else {"n_clusters": n_clusters}),
        )
    store, cfg = project.store, project.config
    if cfg.task == "pairs":
        console().print(
            f"created {project.directory}: {store.n_items} items ({cfg.data_kind}) to group by 'same group?' pairs, "
            f"pair strategy {cfg.strategy}, features {project.features.shape[1]}-d ({cfg.features}); "
            f"first queue: {store.queue_info()['size']} pairs",
            highlight=False,
        )
    else:
        console().print(
            f"created {project.directory}: {store.n_items} items ({cfg.data_kind}), classes {', '.join(cfg.classes)}, "
            f"{store.answer_count()} labels given, features {project.features.shape[1]}-d ({cfg.features}); "
            f"first queue: {store.queue_info()['size']} items",
            highlight=False,
        )
    console().print(f"next: activelab label serve {project.directory}", highlight=False)


@label_app.command("serve")
def serve(
    directory: Annotated[Path, typer.Argument(help="The project directory.")],
    host: Annotated[str, typer.Option(help="Address to bind; another than loopback exposes the app to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token: Annotated[str | None, typer.Option(help="The access token (default: a random one, printed).")] = None,
) -> None:
    """Serve the labelling page and API; the model retrains in a background process."""
    from ..label.project import Project
    from ..label.server import new_token, serve as run_server

    with user_errors(validation=True):
        Project.open(directory)
        if not 0 < port < 65536:
            raise ValueError(f"port must lie in 1..65535, got {port}.")
        if token is not None and len(token) < 8:
            raise ValueError("the token must have at least 8 characters (or leave --token out for a random one).")
    token = token or new_token()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        err_console.print(
            f"[bold yellow]warning:[/] serving on {host}: anyone who can reach this address and has the token can "
            "label and export; keep the token secret.", markup=True, highlight=False,
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # only for the printed URL
    console().print(f"labelling {directory} at http://{shown}:{port}/?token={token}", highlight=False)
    sys.stdout.flush()
    run_server(directory, host=host, port=port, token=token)


@label_app.command("next")
def next_batch(
    directory: Annotated[Path, typer.Argument(help="The project directory.")],
    n: Annotated[int, typer.Option("--n", help="How many items.")] = 50,
    annotator: Annotated[str, typer.Option(help="Who will answer them (the items are leased to this name).")] = "cli",
) -> None:
    """Print the next items to ask about as CSV (id, kind, text or path), leased to ANNOTATOR.

    A pairs project prints its pairs: id, kind, item_a, item_b (the two items' ids), score.
    """
    from ..label.project import Project

    with user_errors(validation=True):
        project = Project.open(directory)
        items = project.store.lease(annotator, n, seconds=project.config.lease_seconds)
    writer = csv.writer(sys.stdout)
    if project.config.task == "pairs":
        writer.writerow(["id", "kind", "item_a", "item_b", "score"])
        ends = project.store.id_of([int(i[end]) for i in items for end in ("a", "b")])
        for k, item in enumerate(items):
            writer.writerow([item["id"], item["kind"], ends[2 * k], ends[2 * k + 1], item.get("score")])
        return
    writer.writerow(["id", "kind", "text", "path", "score"])
    for item in items:
        writer.writerow([item["id"], item["kind"], item.get("text") or "", item.get("path") or "", item.get("score")])


@label_app.command("add")
def add(
    directory: Annotated[Path, typer.Argument(help="The project directory.")],
    answers: Annotated[Path, typer.Argument(help="CSV with columns id,label (label: a class name or index; -1 skip, -2 unsure).")],
    annotator: Annotated[str, typer.Option(help="Who gave these answers.")] = "cli",
) -> None:
    """Store answers from a CSV file (ids as `label next` printed them); retrying the same file stores nothing twice."""
    from ..label.project import Project

    with user_errors(validation=True):
        project = Project.open(directory)
        classes = list(project.config.classes)
        with answers.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or not {"id", "label"} <= set(rows[0]):
            raise ValueError(f"{answers} must be a CSV with the columns id and label (and optionally uid).")
        parsed = []
        for i, row in enumerate(rows):
            raw = str(row["label"]).strip()
            if raw in classes:
                label = classes.index(raw)
            else:
                try:
                    label = int(raw)
                except ValueError:
                    raise ValueError(
                        f"{answers}, row {i + 2}: label {raw!r} is neither a class ({', '.join(classes)}) nor an index "
                        "(or -1 skip, -2 unsure)."
                    ) from None
            uid = row.get("uid") or f"file:{answers.name}:{i}:{row['id']}:{label}"  # same file again: same uids
            parsed.append((str(row["id"]), label, uid))
        _store(project, annotator, parsed)


def _store(project: Any, annotator: str, answers: list[tuple[str, int, str]]) -> None:
    """Store answers (a user error is one line) and say how many were new."""
    with user_errors(validation=True):
        results = project.store.add_answers(annotator, answers)
    duplicates = sum(1 for r in results if r.get("duplicate"))
    console().print(f"stored {len(results) - duplicates} answers ({duplicates} already there)", highlight=False)


@label_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="The project directory.")],
    out: Annotated[Path, typer.Option(help="Where to write the labels (CSV), or tasks JSON with --format labelstudio.")],
    format_: Annotated[str, typer.Option("--format", help="csv (labels, model versions, the fitted model) or labelstudio (tasks).")] = "csv",
) -> None:
    """Write the labels (one row per item: id, label, class, annotator, time), the model versions and the fitted model."""
    from ..label.export import export_csv, export_labelstudio
    from ..label.project import Project

    with user_errors(validation=True):
        project = Project.open(directory)
        if format_ == "csv":
            written = export_csv(project, out)
        elif format_ == "labelstudio":
            written = export_labelstudio(project, out)
        else:
            raise ValueError(f"--format must be csv or labelstudio, got {format_!r}.")
    for path in written:
        console().print(f"wrote {path}", highlight=False)


@label_app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="The project directory.")],
    file: Annotated[Path, typer.Argument(help="A Label Studio JSON export of this project's tasks.")],
    annotator: Annotated[str, typer.Option(help="Who the answers are credited to.")] = "labelstudio",
) -> None:
    """Read a Label Studio export back (its choices become answers; retrying stores nothing twice)."""
    from ..label.labelstudio import read_labelstudio_export
    from ..label.project import Project

    with user_errors(validation=True):
        project = Project.open(directory)
        pairs = read_labelstudio_export(json.loads(file.read_text()), list(project.config.classes))
        answers = [(item_id, label, f"labelstudio:{item_id}:{label}:{uuid.uuid5(uuid.NAMESPACE_URL, str(file.name))}")
                   for item_id, label in pairs]
    _store(project, annotator, answers)

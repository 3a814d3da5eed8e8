"""Label Studio interop: tasks to import into Label Studio, and its JSON export read back.

Label Studio imports a JSON list of tasks, each an object whose ``data`` holds the values its
labeling config refers to (``$text``, ``$image``); a task's top-level ``id`` is reserved to
Label Studio, so none is written. :func:`to_labelstudio_tasks` writes::

    {"data": {"text": "...", "activelab_id": "17", "activelab_score": 0.93},
     "predictions": [{"model_version": "activelab", "score": 0.93, "result": []}]}

``data.activelab_id`` is our item id; it travels through Label Studio untouched and comes back
in its export, where :func:`read_labelstudio_export` uses it to map answers back. The score
(higher = more worth labelling) is both a data column (``activelab_score``) and the
prediction's ``score``, which the Data Manager can sort by; the tasks are also written highest
score first, so Label Studio's default order (import order) asks the most useful items first.
:func:`labelstudio_config` gives a matching labeling config (a single-choice ``Choices``
control named ``label``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from activelab.errors import ActiveLabError
from activelab.label.data import ItemRecord

__all__ = [
    "CONTROL_NAME",
    "LabelStudioError",
    "labelstudio_config",
    "local_files_url",
    "read_labelstudio_export",
    "to_labelstudio_tasks",
]

#: The name of the ``Choices`` control in :func:`labelstudio_config` (the ``from_name`` of answers).
CONTROL_NAME = "label"
_SHOW = 10


class LabelStudioError(ActiveLabError, ValueError):
    """Label Studio tasks cannot be written, or its export cannot be read back (the message says why)."""


def local_files_url(item: ItemRecord) -> str:
    """The URL Label Studio serves an image item from with local file serving.

    Label Studio must run with ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` set to the project's data folder.

    Example:
        >>> local_files_url(ItemRecord(id="cat/a b.png", kind="image", path="cat/a b.png"))
        '/data/local-files/?d=cat/a%20b.png'
    """
    if item.path is None:
        raise LabelStudioError(f"Item {item.id!r} has no image path.")
    return "/data/local-files/?d=" + quote(item.path, safe="/")


def to_labelstudio_tasks(
    items: Sequence[ItemRecord],
    scores: Mapping[str, float] | None,
    *,
    image_url: Callable[[ItemRecord], str] | None = None,
    model_version: str = "activelab",
) -> list[dict[str, Any]]:
    """Label Studio tasks (import JSON) for text or image items.

    Args:
        items: The items, text or image (Label Studio cannot show feature vectors).
        scores: Item id -> score, higher = ask first (e.g. the current queue). Items without a
            finite score get no prediction and come after the scored ones. ``None``: no scores.
        image_url: Item -> the URL Label Studio loads the image from (``data.image``). Default:
            :func:`local_files_url`.
        model_version: The ``model_version`` of the predictions.

    Returns:
        One task per item, ``json.dump``-able, highest score first (ties and unscored items
        keep the order of ``items``).

    Raises:
        LabelStudioError: For a feature-vector item or an item without its text or path.

    Example:
        >>> tasks = to_labelstudio_tasks([ItemRecord(id="0", kind="text", text="hello")], {"0": 0.5})
        >>> tasks[0]["data"], tasks[0]["predictions"][0]["score"]
        ({'text': 'hello', 'activelab_id': '0', 'activelab_score': 0.5}, 0.5)
    """
    url_of = image_url if image_url is not None else local_files_url
    scored: list[tuple[float, int, dict[str, Any]]] = []
    unscored: list[dict[str, Any]] = []
    for item in items:
        data: dict[str, Any]
        if item.kind == "text":
            if item.text is None:
                raise LabelStudioError(f"Text item {item.id!r} has no text.")
            data = {"text": item.text}
        elif item.kind == "image":
            data = {"image": url_of(item)}
        else:
            raise LabelStudioError(
                f"Item {item.id!r} is a {item.kind!r} item; Label Studio can show texts and images, not feature vectors."
            )
        data["activelab_id"] = item.id
        task: dict[str, Any] = {"data": data}
        score = None if scores is None else scores.get(item.id)
        if score is not None and math.isfinite(float(score)):
            value = float(score)
            data["activelab_score"] = value
            task["predictions"] = [{"model_version": model_version, "score": value, "result": []}]
            scored.append((-value, len(scored), task))
        else:
            unscored.append(task)
    scored.sort(key=lambda entry: (entry[0], entry[1]))
    return [task for _, _, task in scored] + unscored


def labelstudio_config(classes: Sequence[str], kind: str) -> str:
    """A Label Studio labeling config for single-choice classification of ``kind`` (``"text"``/``"image"``) items.

    Example:
        >>> print(labelstudio_config(["cat", "dog"], "image"))
        <View>
          <Image name="image" value="$image"/>
          <Choices name="label" toName="image" choice="single" showInLine="true">
            <Choice value="cat"/>
            <Choice value="dog"/>
          </Choices>
        </View>
    """
    if kind not in ("text", "image"):
        raise LabelStudioError(f"Label Studio configs are for 'text' or 'image' items, got {kind!r}.")
    tag = "Text" if kind == "text" else "Image"
    lines = [
        "<View>",
        f'  <{tag} name="{kind}" value="${kind}"/>',
        f'  <Choices name="{CONTROL_NAME}" toName="{kind}" choice="single" showInLine="true">',
        *(f"    <Choice value={quoteattr(name)}/>" for name in classes),
        "  </Choices>",
        "</View>",
    ]
    return "\n".join(lines)


def read_labelstudio_export(
    path_or_obj: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Mapping[str, Any],
    classes: Sequence[str],
    *,
    from_name: str | None = None,
) -> list[tuple[str, int]]:
    """Read Label Studio's JSON export back to ``(activelab id, class index)`` pairs.

    Reads the full ``JSON`` export (tasks with ``annotations``, or ``completions`` in old
    versions) and the ``JSON_MIN`` export (flat rows whose ``label`` holds the choice). Per
    task, the latest annotation that was not cancelled and holds a choice gives the label (by
    ``updated_at``/``created_at`` when present, else the last one listed); tasks without one are
    skipped.

    Args:
        path_or_obj: The export file's path, or its parsed JSON (a list of tasks, or one task).
        classes: The project's class names; a choice is mapped to its index.
        from_name: The ``Choices`` control to read; needed only if a task has several.

    Returns:
        One ``(id, class index)`` pair per answered task, in the export's order.

    Raises:
        LabelStudioError: If the file is not a Label Studio JSON export, an answered task has no
            ``data.activelab_id``, an answer picks several choices, or choices are not among the
            classes (all unknown names are listed).

    Example:
        >>> export = [{"data": {"text": "hi", "activelab_id": "3"}, "annotations": [
        ...     {"result": [{"type": "choices", "value": {"choices": ["dog"]}}], "was_cancelled": False}]}]
        >>> read_labelstudio_export(export, ["cat", "dog"])
        [('3', 1)]
    """
    tasks = _load_tasks(path_or_obj)
    index = {name: position for position, name in enumerate(classes)}
    pairs: list[tuple[str, int]] = []
    unknown: dict[str, int] = {}
    for number, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            raise LabelStudioError(f"Task {number} of the export is a {type(task).__name__}, not an object.")
        where = f"task {task.get('id', number)!r}"
        if "data" in task or "annotations" in task or "completions" in task:
            choice = _latest_choice(task, where, from_name)
            item_id = _activelab_id(task.get("data"), task.get("meta"))
        else:  # JSON_MIN: the data fields and each control's answer, flat
            choice = _min_choice(task.get(from_name or CONTROL_NAME), where)
            item_id = _activelab_id(task, None)
        if choice is None:
            continue
        if item_id is None:
            raise LabelStudioError(
                f"{where} is answered but has no data.activelab_id, so it cannot be matched to an item. Import into "
                "Label Studio the tasks written by `activelab label export --format labelstudio`."
            )
        if choice not in index:
            unknown[choice] = unknown.get(choice, 0) + 1
            continue
        pairs.append((item_id, index[choice]))
    if unknown:
        listed = ", ".join(f"{name!r} ({count} task(s))" for name, count in list(unknown.items())[:_SHOW])
        raise LabelStudioError(
            f"The export holds choices that are not among the project's classes ({', '.join(classes)}): {listed}. "
            "Rename them in Label Studio, or start a project with those classes; nothing was imported."
        )
    return pairs


def _load_tasks(path_or_obj: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[Any]:
    if isinstance(path_or_obj, (str, os.PathLike)):
        path = Path(path_or_obj).expanduser()
        try:
            loaded: Any = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError as exc:
            raise LabelStudioError(f"{path} does not exist; check the path of the Label Studio export.") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LabelStudioError(f"{path}: not a JSON file ({exc}); export from Label Studio as JSON.") from exc
    else:
        loaded = path_or_obj
    if isinstance(loaded, Mapping):
        return [loaded]
    if isinstance(loaded, Sequence) and not isinstance(loaded, (str, bytes)):
        return list(loaded)
    raise LabelStudioError(f"A Label Studio export is a list of tasks, got {type(loaded).__name__}.")


def _activelab_id(data: object, meta: object) -> str | None:
    for holder in (data, meta):
        if isinstance(holder, Mapping) and holder.get("activelab_id") not in (None, ""):
            return str(holder["activelab_id"])
    return None


def _latest_choice(task: Mapping[str, Any], where: str, from_name: str | None) -> str | None:
    annotations = task.get("annotations", task.get("completions")) or []
    if not isinstance(annotations, list):
        raise LabelStudioError(f"{where}: 'annotations' must be a list, got {type(annotations).__name__}.")
    best: tuple[str, int, str] | None = None
    for position, annotation in enumerate(annotations):
        if not isinstance(annotation, Mapping) or annotation.get("was_cancelled"):
            continue
        choice = _annotation_choice(annotation, where, from_name)
        if choice is None:
            continue
        stamp = str(annotation.get("updated_at") or annotation.get("created_at") or "")
        if best is None or (stamp, position) >= (best[0], best[1]):
            best = (stamp, position, choice)
    return None if best is None else best[2]


def _annotation_choice(annotation: Mapping[str, Any], where: str, from_name: str | None) -> str | None:
    results = annotation.get("result") or []
    found: dict[str, list[str]] = {}
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, Mapping) or result.get("type") != "choices":
            continue
        name = str(result.get("from_name", CONTROL_NAME))
        if from_name is not None and name != from_name:
            continue
        value = result.get("value")
        choices = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(choices, list):
            raise LabelStudioError(f"{where}: a choices result has no value.choices list.")
        found[name] = [str(choice) for choice in choices]
    if not found:
        return None
    if len(found) > 1:
        raise LabelStudioError(
            f"{where}: answers from several Choices controls ({', '.join(sorted(found))}); pick one with from_name."
        )
    (choices,) = found.values()
    return _single(choices, where)


def _min_choice(value: object, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("choices"), list):
        return _single([str(choice) for choice in value["choices"]], where)
    if isinstance(value, list):
        return _single([str(choice) for choice in value], where)
    raise LabelStudioError(f"{where}: cannot read the answer {value!r}; expected a class name.")


def _single(choices: list[str], where: str) -> str | None:
    if not choices:
        return None
    if len(choices) > 1:
        raise LabelStudioError(
            f"{where}: the answer picks {len(choices)} choices ({', '.join(choices)}); activelab labels one class "
            'per item (use choice="single" in the labeling config).'
        )
    return choices[0]

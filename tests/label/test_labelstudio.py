"""Tests of activelab.label.labelstudio: tasks for Label Studio and its JSON export read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activelab.label.data import ItemRecord
from activelab.label.labelstudio import (
    LabelStudioError,
    labelstudio_config,
    local_files_url,
    read_labelstudio_export,
    to_labelstudio_tasks,
)

CLASSES = ["cat", "dog", "emu"]
TEXTS = [ItemRecord(id=str(i), kind="text", text=f"text {i}") for i in range(4)]


def annotate(task: dict[str, Any], *choices: str, cancelled: bool = False, updated_at: str | None = None) -> dict[str, Any]:
    """What Label Studio adds to an exported task when someone answers it."""
    annotation: dict[str, Any] = {
        "id": len(task.setdefault("annotations", [])) + 1,
        "result": [{"id": "r1", "from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": list(choices)}}],
        "was_cancelled": cancelled,
        "ground_truth": False,
    }
    if updated_at is not None:
        annotation["updated_at"] = updated_at
    task["annotations"].append(annotation)
    return task


def exported(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio's export: our tasks as JSON, with its own ids and fields added."""
    out = json.loads(json.dumps(tasks))
    for number, task in enumerate(out, start=1):
        task.update({"id": 100 + number, "project": 1, "annotations": [], "drafts": []})
        for prediction in task.get("predictions", []):
            prediction.update({"id": number, "task": 100 + number})
    return out


def test_text_tasks_are_sorted_by_score_and_carry_our_id() -> None:
    tasks = to_labelstudio_tasks(TEXTS, {"0": 0.1, "2": 0.9, "3": float("nan")})
    assert [task["data"]["activelab_id"] for task in tasks] == ["2", "0", "1", "3"]
    assert tasks[0] == {
        "data": {"text": "text 2", "activelab_id": "2", "activelab_score": 0.9},
        "predictions": [{"model_version": "activelab", "score": 0.9, "result": []}],
    }
    assert tasks[2] == {"data": {"text": "text 1", "activelab_id": "1"}}  # unscored: no prediction
    assert "predictions" not in tasks[3]  # a non-finite score is no score
    assert all("id" not in task for task in tasks)  # Label Studio reserves the task id
    json.dumps(tasks, allow_nan=False)


def test_no_scores_keeps_the_item_order() -> None:
    tasks = to_labelstudio_tasks(TEXTS, None)
    assert [task["data"]["activelab_id"] for task in tasks] == ["0", "1", "2", "3"]


def test_image_tasks_use_the_url_function_or_local_files() -> None:
    items = [ItemRecord(id="cat/a b.png", kind="image", path="cat/a b.png"), ItemRecord(id="x.png", kind="image", path="x.png")]
    default = to_labelstudio_tasks(items, {"x.png": 2.0})
    assert [task["data"]["image"] for task in default] == ["/data/local-files/?d=x.png", "/data/local-files/?d=cat/a%20b.png"]
    custom = to_labelstudio_tasks(items, None, image_url=lambda item: f"https://example.invalid/{item.id}")
    assert custom[0]["data"] == {"image": "https://example.invalid/cat/a b.png", "activelab_id": "cat/a b.png"}
    assert local_files_url(items[1]) == "/data/local-files/?d=x.png"


def test_feature_items_cannot_go_to_label_studio() -> None:
    with pytest.raises(LabelStudioError, match="not feature vectors"):
        to_labelstudio_tasks([ItemRecord(id="0", kind="features")], None)


def test_round_trip_through_an_export(tmp_path: Path) -> None:
    tasks = exported(to_labelstudio_tasks(TEXTS, {"1": 0.5}))
    by_id = {task["data"]["activelab_id"]: task for task in tasks}
    annotate(by_id["0"], "dog")
    annotate(by_id["1"], "cat", updated_at="2024-01-01T10:00:00Z")
    annotate(by_id["1"], "emu", updated_at="2024-01-02T10:00:00Z")  # the latest answer wins
    annotate(by_id["1"], "dog", updated_at="2024-01-01T09:00:00Z")
    annotate(by_id["2"], "emu", cancelled=True)  # skipped: cancelled, no other answer
    annotate(by_id["3"], "cat")
    annotate(by_id["3"], "dog", cancelled=True)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    expected = [("1", 2), ("0", 1), ("3", 0)]  # export order (task "1" was scored, so first)
    assert read_labelstudio_export(path, CLASSES) == expected
    assert read_labelstudio_export(str(path), CLASSES) == expected
    assert read_labelstudio_export(tasks, CLASSES) == expected


def test_json_min_export_and_old_completions() -> None:
    rows = [
        {"id": 5, "text": "t", "activelab_id": "7", "label": "emu", "annotator": 1},
        {"id": 6, "text": "u", "activelab_id": "8"},  # not answered
        {"id": 7, "text": "v", "activelab_id": "9", "label": {"choices": ["cat"]}},
    ]
    assert read_labelstudio_export(rows, CLASSES) == [("7", 2), ("9", 0)]
    old = {"data": {"text": "t", "activelab_id": "4"}, "completions": [{"result": [
        {"type": "choices", "from_name": "label", "value": {"choices": ["dog"]}}]}]}
    assert read_labelstudio_export(old, CLASSES) == [("4", 1)]


def test_other_controls_and_empty_answers_are_ignored() -> None:
    task = {"data": {"activelab_id": "1"}, "annotations": [
        {"result": [{"type": "textarea", "from_name": "note", "value": {"text": ["hmm"]}},
                    {"type": "choices", "from_name": "label", "value": {"choices": ["cat"]}}]},
        {"result": []},
    ]}
    assert read_labelstudio_export([task], CLASSES) == [("1", 0)]
    assert read_labelstudio_export([{"data": {"activelab_id": "2"}, "annotations": []}], CLASSES) == []


def _two_controls() -> list[dict[str, Any]]:
    return [{"data": {"activelab_id": "1"}, "annotations": [{"result": [
        {"type": "choices", "from_name": "label", "value": {"choices": ["cat"]}},
        {"type": "choices", "from_name": "mood", "value": {"choices": ["happy"]}},
    ]}]}]


def test_from_name_picks_one_control() -> None:
    assert read_labelstudio_export(_two_controls(), CLASSES, from_name="label") == [("1", 0)]
    with pytest.raises(LabelStudioError, match="several Choices controls \\(label, mood\\); pick one with from_name"):
        read_labelstudio_export(_two_controls(), CLASSES)


@pytest.mark.parametrize(
    ("export", "message"),
    [
        (
            [annotate({"data": {"activelab_id": "1"}}, "cow"), annotate({"data": {"activelab_id": "2"}}, "cow"),
             annotate({"data": {"activelab_id": "3"}}, "yak")],
            r"not among the project's classes \(cat, dog, emu\): 'cow' \(2 task\(s\)\), 'yak' \(1 task\(s\)\)",
        ),
        ([annotate({"data": {"text": "t"}}, "cat")], "has no data.activelab_id"),
        ([annotate({"data": {"activelab_id": "1"}}, "cat", "dog")], "picks 2 choices"),
        (3, "is a list of tasks, got int"),
        ([3], "Task 0 of the export is a int"),
        ([{"data": {"activelab_id": "1"}, "annotations": [{"result": [{"type": "choices", "value": {}}]}]}], "no value.choices"),
    ],
    ids=["unknown classes", "no id", "several choices", "not a list", "not an object", "malformed choices"],
)
def test_export_errors(export: Any, message: str) -> None:
    with pytest.raises(LabelStudioError, match=message):
        read_labelstudio_export(export, CLASSES)


def test_export_file_errors(tmp_path: Path) -> None:
    with pytest.raises(LabelStudioError, match="does not exist"):
        read_labelstudio_export(tmp_path / "missing.json", CLASSES)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(LabelStudioError, match="not a JSON file"):
        read_labelstudio_export(tmp_path / "bad.json", CLASSES)


def test_labeling_config_escapes_names() -> None:
    config = labelstudio_config(["a&b", 'say "hi"'], "text")
    assert '<Text name="text" value="$text"/>' in config
    assert '<Choices name="label" toName="text" choice="single"' in config
    assert '<Choice value="a&amp;b"/>' in config and "<Choice value='say \"hi\"'/>" in config
    with pytest.raises(LabelStudioError, match="'text' or 'image'"):
        labelstudio_config(["a", "b"], "features")

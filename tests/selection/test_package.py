"""``activelab.selection`` itself: a package of re-exports, with its public names kept."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import activelab.selection as selection

PUBLIC = {
    "badge": "badge",
    "batchbald": "batchbald",
    "cal_scores": "contrastive",
    "check_beta": "sampling",
    "cluster_margin": "hybrid",
    "covering_radius": "kcenter",
    "discriminative": "discriminative",
    "epig": "epig",
    "kcenter_greedy": "kcenter",
    "kmeans_initial": "coldstart",
    "mixture_scores": "hybrid",
    "power": "sampling",
    "probcover": "coldstart",
    "random_projection": "projection",
    "reduce_features": "coldstart",
    "rank": "sampling",
    "softmax": "sampling",
    "top_k": "sampling",
    "two_step": "hybrid",
    "typiclust": "coldstart",
}


def test_public_names_are_re_exported_from_their_modules() -> None:
    assert sorted(selection.__all__) == sorted(PUBLIC)
    for name, module in PUBLIC.items():
        fn = getattr(selection, name)
        assert inspect.isfunction(fn), name
        assert fn.__module__ == f"activelab.selection.{module}", name
        assert getattr(importlib.import_module(f"activelab.selection.{module}"), name) is fn


def test_init_holds_only_a_docstring_imports_and_all() -> None:
    tree = ast.parse(Path(selection.__file__).read_text())
    doc, *rest = tree.body
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and "Costs" in doc.value.value
    for node in rest:
        if isinstance(node, ast.Assign):
            assert [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]
        else:
            assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.dump(node)


def test_no_selection_module_imports_a_private_name_or_the_package() -> None:
    for path in Path(selection.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.level == 1 and node.module is None), f"{path.name}: from . import"
                assert not any(a.name.startswith("_") and a.name != "__future__" for a in node.names), path.name

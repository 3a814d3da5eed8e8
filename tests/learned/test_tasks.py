import numpy as np
import pytest

from activelab.learned.tasks import TRAIN_SOURCES, TaskSampler, load_source


def test_held_out_datasets_are_not_training_sources():
    assert not {"digits", "mnist1d", "mnist", "fashion-mnist", "newsgroups"} & set(TRAIN_SOURCES)


def test_same_rng_same_task_and_valid_protocol(small_sampler):
    a = small_sampler.sample(np.random.default_rng(11))
    b = small_sampler.sample(np.random.default_rng(11))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert (a.budget, a.query_size, a.n_candidates, a.initial, a.seed) == (b.budget, b.query_size, b.n_candidates, b.initial, b.seed)
    for seed in range(8):
        t = small_sampler.sample(np.random.default_rng(seed))
        assert t.query_size <= t.n_candidates <= 12
        assert t.initial < t.budget <= len(t.X_train)
        assert len(t.X_val) == len(t.y_val) >= 20 and len(t.X_test) >= 20
        assert t.y_train.max() < t.n_classes
        # standardised with train statistics only
        np.testing.assert_allclose(t.X_train.mean(axis=0), 0.0, atol=1e-9)


def test_splits_are_disjoint():
    rng = np.random.default_rng(0)
    task = TaskSampler(sources=("iris",), learners=("logreg",)).sample(rng)
    rows = np.vstack([task.X_train, task.X_val, task.X_test])
    assert len(np.unique(rows.round(9), axis=0)) >= len(rows) - 2  # iris has 1-2 duplicate rows
    assert len(rows) == 150


def test_generated_varies_classes_and_dims():
    shapes = {load_source("generated", np.random.default_rng(s), 100)[0].shape[1] for s in range(6)}
    classes = {int(load_source("generated", np.random.default_rng(s), 100)[1].max()) + 1 for s in range(6)}
    assert len(shapes) > 2 and len(classes) > 2


def test_errors():
    with pytest.raises(ValueError, match="sources is empty"):
        TaskSampler(sources=())
    with pytest.raises(ValueError, match="query_sizes must lie"):
        TaskSampler(query_sizes=(100,), max_candidates=64)
    with pytest.raises(ValueError, match="protocol must be one of"):
        TaskSampler(protocol="deploy")


def test_deployment_protocol_is_the_declared_one():
    sampler = TaskSampler(sources=("generated",), learners=("mlp",), protocol="deployment", n_items=600)
    rng = np.random.default_rng(4)
    tasks = [sampler.sample(rng) for _ in range(12)]
    assert {(t.initial, t.budget) for t in tasks} == {(10, 100), (20, 120)}
    assert all(t.query_size == 10 and t.initial_strategy == "typiclust" and t.learner == "mlp" for t in tasks)
    # a small pool: at most half of it is labelled
    small = TaskSampler(sources=("iris",), protocol="deployment").sample(np.random.default_rng(0))
    assert small.budget == len(small.X_train) // 2
    # the random protocol keeps a uniform initial draw
    assert TaskSampler(sources=("generated",)).sample(np.random.default_rng(0)).initial_strategy == "random"


def test_deployment_tasks_start_from_typiclusts_initial_set():
    import dataclasses

    from activelab.learned.env import ALEnv, reference_curve, task_engine

    task = TaskSampler(sources=("generated",), learners=("logreg",), protocol="deployment", n_items=400).sample(
        np.random.default_rng(2))
    env = ALEnv("heuristic", task=task, heuristics=("margin", "typiclust"), max_candidates=64)
    env.reset(seed=0)
    labelled = np.flatnonzero(env.engine.pool.labelled_mask).tolist()
    typiclust = sorted(task_engine(task).propose(task.initial).tolist())   # a fresh engine of the task
    uniform = sorted(task_engine(dataclasses.replace(task, initial_strategy="random")).propose(task.initial).tolist())
    assert len(labelled) == task.initial and labelled == typiclust and labelled != uniform
    # the reward's reference run (margin) starts from the same set: the same first accuracy
    assert reference_curve(task)[0] == pytest.approx(env.curve[0])

import numpy as np
import pytest
import torch

from activelab.errors import CapabilityError, NotFittedError
from activelab.models import SklearnClassifier, TorchClassifier, cnn, compute_views, mlp
from activelab.models.base import check_capabilities


def _clf(**kw):
    params = {"lr": 1e-2, "epochs": 20}
    params.update(kw)
    return TorchClassifier(mlp((16,), 0.25), 3, **params)


def test_fit_predict_shapes(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 3)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.9
    assert clf.embed(X).shape == (len(X), 16)
    assert clf.predict_proba_samples(X[:7], 5, rng=rng).shape == (7, 5, 3)


def test_same_seed_same_model_and_no_global_rng_use(tiny_blobs):
    X, y = tiny_blobs
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002  (the global state is what this test checks)
    a = _clf().fit(X, y, rng=np.random.default_rng(5)).predict_proba(X)
    b = _clf().fit(X, y, rng=np.random.default_rng(5)).predict_proba(X)
    c = _clf().fit(X, y, rng=np.random.default_rng(6)).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])  # noqa: NPY002  (global state untouched)


def test_embed_is_input_of_last_linear(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    with torch.no_grad():
        expected = clf.module_[:-1](torch.from_numpy(X)).numpy()  # Flatten, Linear, ReLU, Dropout(eval)
    np.testing.assert_allclose(clf.embed(X), expected, rtol=1e-6)


def test_mc_dropout_only_switches_dropout_on():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    clf = TorchClassifier(cnn((4,), hidden=8, dropout=0.5), 10, epochs=1, batch_size=32).fit(X, y, rng=rng)
    bns = [m for m in clf.module_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [(b.running_mean.clone(), b.running_var.clone(), int(b.num_batches_tracked)) for b in bns]
    samples = clf.predict_proba_samples(X[:8], 6, rng=rng)
    after = [(b.running_mean, b.running_var, int(b.num_batches_tracked)) for b in bns]
    for (m0, v0, n0), (m1, v1, n1) in zip(before, after, strict=True):
        assert torch.equal(m0, m1) and torch.equal(v0, v1) and n0 == n1
    assert not clf.module_.training and not any(m.training for m in clf.module_.modules())
    assert samples.std(axis=1).max() > 0  # dropout really was active
    # with BatchNorm in train mode, a batch of one identical image would differ; in eval it does not
    one = np.repeat(X[:1], 2, axis=0)
    s = clf.predict_proba_samples(one, 3, rng=np.random.default_rng(1))
    assert s.shape == (2, 3, 10)


def test_mc_samples_deterministic_per_rng(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    a = clf.predict_proba_samples(X, 4, rng=np.random.default_rng(1))
    b = clf.predict_proba_samples(X, 4, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_update_policies(tiny_blobs):
    X, y = tiny_blobs
    first, second = np.arange(0, 60), np.arange(0, 120)

    def two_fits(update):
        clf = _clf(update=update)
        clf.fit(X[first], y[first], rng=np.random.default_rng(0))
        clf.fit(X[second], y[second], rng=np.random.default_rng(1))
        return clf.predict_proba(X)

    fresh = _clf().fit(X[second], y[second], rng=np.random.default_rng(1)).predict_proba(X)
    np.testing.assert_array_equal(two_fits("retrain"), fresh)  # retrain forgets round 1
    assert not np.allclose(two_fits("warm_start"), fresh)
    assert not np.allclose(two_fits("finetune"), two_fits("warm_start"))


def test_minibatch_and_early_stopping(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf(batch_size=16, epochs=200, early_stopping=3).fit(X, y, rng=rng)
    assert (clf.predict_proba(X).argmax(1) == y).mean() > 0.9


def test_state_dict_round_trip(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    twin = _clf()
    twin.load_state_dict(clf.state_dict())
    np.testing.assert_array_equal(clf.predict_proba(X), twin.predict_proba(X))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"update": "sometimes"}, "update must be one of"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"epochs": 0}, "epochs must be"),
        ({"lr": -1.0}, "lr must be"),
    ],
)
def test_bad_params(tiny_blobs, rng, kw, match):
    X, y = tiny_blobs
    with pytest.raises(ValueError, match=match):
        _clf(**kw).fit(X, y, rng=rng)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_missing_is_clear(tiny_blobs, rng):
    X, y = tiny_blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        _clf(device="cuda").fit(X, y, rng=rng)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_shapes(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf(device="cuda").fit(X, y, rng=rng)
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_bad_labels_and_not_fitted(tiny_blobs, rng):
    X, y = tiny_blobs
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        _clf().fit(X, y + 1, rng=rng)
    with pytest.raises(ValueError, match="empty labelled set"):
        _clf().fit(X[:0], y[:0], rng=rng)
    with pytest.raises(NotFittedError, match="call fit"):
        _clf().predict_proba(X)


def test_compute_views_chunked_equals_whole(tiny_blobs, rng):
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    idx = np.arange(5, 180)
    lab = np.zeros(len(idx), bool)
    whole = compute_views(clf, X, idx, lab, ["probs", "embeddings", "prob_samples"], rng=np.random.default_rng(3), chunk_size=1000)
    np.testing.assert_allclose(compute_views(clf, X, idx, lab, ["probs"], rng=rng, chunk_size=7).probs, whole.probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        compute_views(clf, X, idx, lab, ["embeddings"], rng=rng, chunk_size=13).embeddings, whole.embeddings, rtol=1e-5, atol=1e-6
    )
    assert whole.prob_samples.shape == (len(idx), 20, 3)


def test_sklearn_adapter_pads_classes(tiny_blobs, rng):
    from sklearn.linear_model import LogisticRegression

    X, y = tiny_blobs
    keep = y != 2
    clf = SklearnClassifier(LogisticRegression(), 4).fit(X[keep], y[keep], rng=rng)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 4) and np.all(p[:, 2:] == 0)
    single = SklearnClassifier(LogisticRegression(), 3).fit(X[:3], np.array([1, 1, 1]), rng=rng)
    assert single.predict_proba(X[:2]).tolist() == [[0, 1, 0], [0, 1, 0]]


def test_capability_error_names_the_fix():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(CapabilityError, match="predict_proba_samples"):
        check_capabilities(SklearnClassifier(LogisticRegression(), 2), ["prob_samples"], "bald")


def test_mc_prefix_caching_matches_full_forward(tiny_blobs, rng):
    """Running the layers before the first dropout once gives the same samples as full passes."""
    from activelab.models import torch as torch_mod

    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    fast = clf.predict_proba_samples(X, 6, rng=np.random.default_rng(4))
    original = torch_mod._mc_split
    try:
        torch_mod._mc_split = lambda module: (None, module)
        slow = clf.predict_proba_samples(X, 6, rng=np.random.default_rng(4))
    finally:
        torch_mod._mc_split = original
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-7)
    prefix, suffix = torch_mod._mc_split(clf.module_)
    assert len(prefix) == 3 and isinstance(suffix[0], torch.nn.Dropout)


def _manual_draw(clf, X, mask_by_layer):
    """Reference: the network with each dropout replaced by multiplication with a fixed mask."""
    out = torch.from_numpy(X)
    i = 0
    with torch.no_grad():
        for layer in clf.module_:
            if isinstance(layer, torch.nn.Dropout):
                out = out * mask_by_layer[i]
                i += 1
            else:
                out = layer(out)
    return torch.softmax(out, 1).numpy()


@pytest.mark.parametrize(("mode", "joint"), [("consistent", False), ("consistent", True), ("auto", True)])
def test_consistent_mc_dropout_is_one_network_per_draw(tiny_blobs, rng, mode, joint):
    X, y = tiny_blobs
    clf = _clf(mc_dropout=mode).fit(X, y, rng=rng)
    samples = clf.predict_proba_samples(X, 5, rng=np.random.default_rng(2), joint=joint)
    # the same draws whatever the chunking: masks are per draw, not per chunk
    chunked = TorchClassifier(mlp((16,), 0.25), 3, lr=1e-2, epochs=20, inference_batch_size=7, mc_dropout=mode)
    chunked.load_state_dict(clf.state_dict())
    np.testing.assert_allclose(
        chunked.predict_proba_samples(X, 5, rng=np.random.default_rng(2), joint=joint), samples, rtol=1e-5, atol=1e-7
    )
    # identical rows get identical draws (one network per draw)
    twins = np.repeat(X[:1], 6, axis=0)
    same = clf.predict_proba_samples(twins, 4, rng=np.random.default_rng(3), joint=joint)
    assert np.all(same == same[:1]) and same.std(axis=1).max() > 0


@pytest.mark.parametrize(("mode", "joint"), [("independent", False), ("independent", True), ("auto", False)])
def test_independent_mc_dropout_gives_each_row_its_own_masks(tiny_blobs, rng, mode, joint):
    X, y = tiny_blobs
    clf = _clf(mc_dropout=mode).fit(X, y, rng=rng)
    twins = np.repeat(X[:1], 6, axis=0)
    differ = clf.predict_proba_samples(twins, 4, rng=np.random.default_rng(3), joint=joint)
    assert differ.std(axis=0).max() > 0
    assert clf.mc_dropout == mode and _clf().mc_dropout == "auto"  # the default


def test_consistent_mask_matches_manual_reference(tiny_blobs, rng):
    from activelab.models import torch as torch_mod

    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    seed = 1234
    masks = torch_mod._ConsistentMasks(clf.module_, seed)
    try:
        with torch.no_grad():
            clf.module_.eval()
            for d in range(3):
                masks.draw = d
                via_hooks = torch.softmax(clf.module_(torch.from_numpy(X)), 1).numpy()
                mask = masks.masks[(0, d)]
                assert tuple(mask.shape) == (16,)
                np.testing.assert_allclose(np.unique(mask.numpy()), [0.0, 1 / 0.75], rtol=1e-6)
                np.testing.assert_allclose(via_hooks, _manual_draw(clf, X, [mask]), rtol=1e-6)
    finally:
        masks.remove()
    assert not clf.module_[-2]._forward_hooks  # hooks are removed


def test_mc_dropout_mode_errors(tiny_blobs, rng):
    X, y = tiny_blobs
    with pytest.raises(ValueError, match="mc_dropout must be one of \\['auto', 'consistent', 'independent'\\], got 'fixed'"):
        _clf(mc_dropout="fixed").fit(X, y, rng=rng)

    def alpha_net(input_shape, n_classes):
        return torch.nn.Sequential(torch.nn.Linear(input_shape[0], 8), torch.nn.AlphaDropout(0.2), torch.nn.Linear(8, n_classes))

    clf = TorchClassifier(alpha_net, 3, epochs=2).fit(X, y, rng=rng)
    with pytest.raises(TypeError, match="not AlphaDropout; pass mc_dropout='independent'"):
        clf.predict_proba_samples(X, 2, rng=rng, joint=True)
    clf.mc_dropout = "independent"
    assert clf.predict_proba_samples(X, 2, rng=rng).shape == (len(X), 2, 3)


def test_compute_views_draws_are_one_network_across_chunks(tiny_blobs, rng):
    """Chunks of the streamed pass share the draw seed: draw d is one network for the whole pool."""
    X, y = tiny_blobs
    clf = _clf().fit(X, y, rng=rng)
    idx = np.arange(len(X))
    whole = compute_views(clf, X, idx, np.zeros(len(X), bool), ["prob_samples"], n_draws=4,
                          rng=np.random.default_rng(9), chunk_size=len(X), joint_draws=True)
    chunked = compute_views(clf, X, idx, np.zeros(len(X), bool), ["prob_samples"], n_draws=4,
                            rng=np.random.default_rng(9), chunk_size=7, joint_draws=True)
    np.testing.assert_allclose(chunked.prob_samples, whole.prob_samples, rtol=1e-5, atol=1e-7)
    # joint draws reach the model: with the default "auto", twins get equal draws only when asked
    twins = np.repeat(X[:1], 5, axis=0)
    for joint_draws, equal in ((True, True), (False, False)):
        v = compute_views(clf, twins, np.arange(5), np.zeros(5, bool), ["prob_samples"], n_draws=4,
                          rng=np.random.default_rng(9), joint_draws=joint_draws)
        assert bool(np.all(v.prob_samples == v.prob_samples[:1])) is equal

    class NoJointKeyword:  # a user model without the keyword is called without it
        def predict_proba_samples(self, X, n_draws, *, rng):
            return np.full((len(X), n_draws, 2), 0.5)

    v = compute_views(NoJointKeyword(), X, idx, np.zeros(len(X), bool), ["prob_samples"], n_draws=3, rng=rng, joint_draws=True)
    assert v.prob_samples.shape == (len(X), 3, 2)
    # the inputs view is the flattened rows, whatever the model
    v = compute_views(clf, X, idx[5:], np.zeros(len(X) - 5, bool), ["inputs"], rng=rng, chunk_size=7)
    np.testing.assert_array_equal(v.inputs, X[5:].reshape(len(X) - 5, -1))


def test_channels_last_images_match_the_default_layout():
    """Channels-last (the default for images) trains and predicts like NCHW up to float rounding."""
    gen = np.random.default_rng(0)
    X = gen.normal(size=(96, 1, 12, 12)).astype(np.float32)
    y = gen.integers(0, 3, 96)
    fits = {}
    for flag in (None, False):
        clf = TorchClassifier(cnn((4, 8), hidden=8), 3, epochs=3, batch_size=32, channels_last=flag)
        fits[flag] = clf.fit(X, y, rng=np.random.default_rng(1))
    conv = next(m for m in fits[None].module_.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fits[None]._inference_rows == 128 and fits[False]._inference_rows == 128
    np.testing.assert_allclose(fits[None].predict_proba(X), fits[False].predict_proba(X), atol=1e-3)  # 3 epochs apart
    fits[False].module_.load_state_dict(fits[None].module_.state_dict())  # same weights: same outputs
    np.testing.assert_allclose(fits[None].predict_proba(X), fits[False].predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(fits[None].embed(X), fits[False].embed(X), rtol=1e-4, atol=1e-5)
    flat = TorchClassifier(mlp((8,)), 3, epochs=1).fit(X.reshape(96, -1), y, rng=np.random.default_rng(1))
    assert flat._inference_rows == 4096


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"inference_batch_size": 0}, "inference_batch_size must be an int >= 1 or None"),
     ({"channels_last": "yes"}, "channels_last must be True, False or None")],
)
def test_inference_settings_are_validated(tiny_blobs, rng, kwargs, match):
    X, y = tiny_blobs
    with pytest.raises(ValueError, match=match):
        TorchClassifier(mlp((8,)), 3, epochs=1, **kwargs).fit(X, y, rng=rng)

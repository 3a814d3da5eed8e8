"""Network builders: each returns a factory ``(input_shape, n_classes) -> nn.Module``.

Every network ends in an ``nn.Linear`` whose input is the embedding used by BADGE and
k-center (``TorchClassifier.embed``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import nn

__all__ = ["MLP_INITS", "cnn", "mlp"]

Factory = Callable[[tuple[int, ...], int], nn.Module]


#: Initialisations :func:`mlp` offers for its ``nn.Linear`` layers.
MLP_INITS = ("he", "glorot", "torch")


def _initialise_linear(net: nn.Module, init: str) -> None:
    """Re-draw every ``nn.Linear`` of ``net`` in place (``init="torch"`` keeps PyTorch's default).

    Draws from torch's global generator, which :class:`~activelab.models.TorchClassifier` seeds
    around each build, so the result is fixed by the fit's seed.
    """
    if init == "torch":
        return
    for module in net.modules():
        if isinstance(module, nn.Linear):
            if init == "he":
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def mlp(
    hidden: Sequence[int] = (128,),
    dropout: float = 0.25,
    activation: type[nn.Module] = nn.ReLU,
    init: str = "he",
) -> Factory:
    """Multilayer perceptron: Flatten → [Linear → activation]* → Dropout → Linear.

    The reference digits network is ``mlp((128,), 0.25)``: 64-128-10 with dropout 0.25
    before the output layer.

    Args:
        hidden: Widths of the hidden layers.
        dropout: Dropout rate before the output layer (0 for none).
        activation: Activation module class after each hidden layer.
        init: How every ``nn.Linear`` is initialised.

            - ``"he"`` (default): He/Kaiming-uniform weights for ReLU, ``U(±√(6/fan_in))``,
              and zero biases (He et al., 2015).
            - ``"glorot"``: Glorot/Xavier-uniform weights, ``U(±√(6/(fan_in+fan_out)))``, and
              zero biases (Keras's default for dense layers).
            - ``"torch"``: PyTorch's own default, ``U(±1/√fan_in)`` for weights and biases;
              its weights have √6 ≈ 2.4× less spread than He's. The registry's
              ``mlp_torch_init`` uses it (docs/benchmarks.md, "He initialisation for `mlp`",
              compares the two).

    Raises:
        ValueError: For a dropout outside ``[0, 1)``, a non-positive width or an unknown ``init``.

    Example:
        >>> net = mlp((32,), 0.1)((64,), 10)
        >>> [type(m).__name__ for m in net]
        ['Flatten', 'Linear', 'ReLU', 'Dropout', 'Linear']
        >>> float(net[1].bias.detach().abs().max())  # "he" starts every bias at zero
        0.0
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
    widths = [int(w) for w in hidden]
    if any(w <= 0 for w in widths):
        raise ValueError(f"hidden widths must be positive, got {list(hidden)}.")
    if init not in MLP_INITS:
        raise ValueError(f"init must be one of {list(MLP_INITS)}, got {init!r}.")

    def build(input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for w in widths:
            layers += [nn.Linear(width, w), activation()]
            width = w
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, n_classes))
        net = nn.Sequential(*layers)
        _initialise_linear(net, init)
        return net

    return build


def cnn(channels: Sequence[int] = (32, 64), hidden: int = 128, dropout: float = 0.25) -> Factory:
    """Small conv net for 28×28 images: [Conv3×3 → BatchNorm → ReLU → MaxPool2]* → Linear → Dropout → Linear.

    Accepts inputs ``(n, c, h, w)``; BatchNorm statistics are left untouched by MC dropout.
    Its layers keep PyTorch's default initialisation (BatchNorm makes the network far less
    sensitive to it than the plain :func:`mlp`).

    Example:
        >>> import torch
        >>> net = cnn()((1, 28, 28), 10)
        >>> tuple(net(torch.zeros(2, 1, 28, 28)).shape)
        (2, 10)
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")

    def build(input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        if len(input_shape) != 3:
            raise ValueError(
                f"cnn expects image items of shape (channels, height, width), got {input_shape}; "
                "use mlp for flat features."
            )
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = out, h // 2, w // 2
        layers += [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, n_classes))
        return nn.Sequential(*layers)

    return build

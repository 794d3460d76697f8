"""Recompute the slides' worked examples in float64 and record every number beside the slide's.

The long table has one row per (example, quantity, method): `method` is `slide` (the number as
printed, `printed_decimals` the decimals it is printed with), `recomputed` (from the slide's
inputs), `from the slide's previous line` (from the slide's own previous intermediate value,
which locates an erratum), `with ten times η`, `with target 0` and `one minus` (other readings
of wrong numbers), and `backprop`, `autograd`, `central difference` and `wiggle step` for
gradients.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from dlexp.finding import RunContext
from dlexp.registry import reference_of
from dlexp.table import long_row

from .checks import decimals
from .examples import (
    SlideNet,
    autograd_gradient,
    backprop_gradient,
    central_differences,
    float64,
    slide_net,
    wiggle_steps,
)

REFERENCE = reference_of(__file__)


def row(example: str, quantity: str, method: str, value: float) -> dict[str, Any]:
    """A long row; the slide's number keeps how many decimals the slide prints it with (as a
    count: the text "4" would come back from metrics.csv as the number 4.0)."""
    printed = REFERENCE[example]["printed"].get(quantity) if method == "slide" else None
    places = decimals(printed) if printed is not None else None
    return long_row(example, 0, 0, 0, quantity, value, method=method, printed_decimals=places)


def slide_rows(example: str) -> list[dict[str, Any]]:
    return [
        row(example, q, "slide", float(text)) for q, text in REFERENCE[example]["printed"].items()
    ]


def values(example: str, method: str, numbers: dict[str, float]) -> list[dict[str, Any]]:
    return [row(example, quantity, method, value) for quantity, value in numbers.items()]


def gradient_rows(example: str, net: SlideNet, epsilon: float) -> list[dict[str, Any]]:
    """∂L/∂w by backprop, autograd and central differences, and the slide's wiggle step."""
    return [
        *values(example, "backprop", backprop_gradient(net)),
        *values(example, "autograd", autograd_gradient(net)),
        *values(example, "central difference", central_differences(net, epsilon)),
        *values(example, "wiggle step", wiggle_steps(net, epsilon)),
    ]


def sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def forward_example(epsilon: float) -> list[dict[str, Any]]:
    """Deck "Deep learning", slide "Forward example": I1 = W1 x, O1 = σ(I1), I2 = W2 O1, O2."""
    ref = REFERENCE["forward_example"]
    net = slide_net([ref["W1"], ref["W2"]], ref["x"], ref["y"])
    i1 = net.weights[0] @ net.x
    o1 = torch.sigmoid(i1)
    i2 = net.weights[1] @ o1
    recomputed = {f"I1[{j + 1}]": float(v) for j, v in enumerate(i1)}
    recomputed |= {f"O1[{j + 1}]": float(v) for j, v in enumerate(o1)}
    recomputed |= {"I2": float(i2[0]), "O2": float(torch.sigmoid(i2)[0])}
    printed = {q: float(t) for q, t in ref["printed"].items()}
    slide_o1 = [sigma(printed[f"I1[{j}]"]) for j in (1, 2, 3)]
    slide_i2 = sum(w * o for w, o in zip(ref["W2"][0], [printed[f"O1[{j}]"] for j in (1, 2, 3)]))
    previous_line = {f"O1[{j + 1}]": v for j, v in enumerate(slide_o1)}
    previous_line |= {"I2": slide_i2, "O2": sigma(printed["I2"])}
    return [
        *slide_rows("forward_example"),
        *values("forward_example", "recomputed", recomputed),
        *values("forward_example", "from the slide's previous line", previous_line),
        *gradient_rows("forward_example", net, epsilon),
    ]


def sigmoid_gate(epsilon: float) -> list[dict[str, Any]]:
    """Deck "Deep learning": f = σ(w0 + w1 x1 + w2 x2), L = −ln f (y = 1), one step of η."""
    ref = REFERENCE["sigmoid_gate"]
    w0, w1, w2 = ref["w"]
    net = SlideNet([torch.tensor([[w1, w2]])], [torch.tensor([w0])], torch.tensor(ref["x"]),
                   ref["y"], bias_is_parameter=True)  # fmt: skip
    gradient = backprop_gradient(net)
    by_slide = {"dL/dw0": gradient["dL/db1[1]"], "dL/dw1": gradient["dL/dW1[1,1]"],
                "dL/dw2": gradient["dL/dW1[1,2]"]}  # fmt: skip
    stepped = {f"w{k} after the step": w - ref["eta"] * by_slide[f"dL/dw{k}"]
               for k, w in enumerate(ref["w"])}  # fmt: skip
    x1, x2 = ref["x"]
    new = [stepped[f"w{k} after the step"] for k in range(3)]
    recomputed = {
        "f": sigma(w0 + w1 * x1 + w2 * x2),
        **by_slide,
        **stepped,
        "f after the step": sigma(new[0] + new[1] * x1 + new[2] * x2),
    }
    printed = {q: float(t) for q, t in ref["printed"].items()}
    slide_new = [printed[f"w{k} after the step"] for k in range(3)]
    previous_line = {
        **{
            f"w{k} after the step": w - ref["eta"] * printed[f"dL/dw{k}"]
            for k, w in enumerate(ref["w"])
        },
        "f after the step": sigma(slide_new[0] + slide_new[1] * x1 + slide_new[2] * x2),
    }
    ten_times = {
        f"w{k} after the step": w - 10 * ref["eta"] * by_slide[f"dL/dw{k}"]
        for k, w in enumerate(ref["w"])
    }
    return [
        *slide_rows("sigmoid_gate"),
        *values("sigmoid_gate", "with ten times η", ten_times),
        *values("sigmoid_gate", "recomputed", recomputed),
        *values("sigmoid_gate", "from the slide's previous line", previous_line),
        *gradient_rows("sigmoid_gate", net, epsilon),
    ]


def chain_rule(epsilon: float) -> list[dict[str, Any]]:
    """Deck "Deep learning", slide "Computational graph": q = x + y, f = q z; by the chain rule
    ∂f/∂x = ∂f/∂q · ∂q/∂x = z · 1, ∂f/∂z = q; autograd and central differences beside it."""
    ref = REFERENCE["chain_rule"]
    x, y, z = (torch.tensor(ref[k], requires_grad=True) for k in ("x", "y", "z"))
    f = (x + y) * z
    f.backward()
    by_hand = {"df/dx": ref["z"] * 1.0, "df/dy": ref["z"] * 1.0, "df/dz": ref["x"] + ref["y"]}
    autograd = {"df/dx": float(x.grad), "df/dy": float(y.grad), "df/dz": float(z.grad)}
    point = {k: ref[k] for k in ("x", "y", "z")}

    def moved(key: str, by: float) -> float:
        p = {**point, key: point[key] + by}
        return (p["x"] + p["y"]) * p["z"]

    central = {f"df/d{k}": (moved(k, epsilon) - moved(k, -epsilon)) / (2 * epsilon) for k in point}
    return [
        *slide_rows("chain_rule"),
        *values("chain_rule", "recomputed", by_hand),
        *values("chain_rule", "autograd", autograd),
        *values("chain_rule", "central difference", central),
    ]


def torch_illustration(epsilon: float) -> list[dict[str, Any]]:
    """Deck "Introduction to Deep Learning", slide "Illustration in 3 steps": h = σ(Wx),
    l = −c ln h − (1 − c) ln(1 − h), W.grad; recomputed for the slide's target c = 1, and for
    c = 0, which is what the slide's code computes (it uses `y`, not the `c` it defines)."""
    ref = REFERENCE["torch_illustration"]
    rows = slide_rows("torch_illustration")
    for target, method in ((ref["c"], "recomputed"), (1 - ref["c"], "with target 0")):
        net = slide_net([[ref["W"]]], ref["x"], target)
        h = float(torch.sigmoid(net.weights[0] @ net.x)[0])
        grad = backprop_gradient(net)
        numbers = {"h": h, "l": float(net.loss())}
        numbers |= {f"W.grad[{j}]": grad[f"dL/dW1[1,{j}]"] for j in (1, 2, 3)}
        rows += values("torch_illustration", method, numbers)
        if method == "recomputed":
            rows += gradient_rows("torch_illustration", net, epsilon)
            rows += values("torch_illustration", "one minus", {"h": 1 - h})
    return rows


def measure(context: RunContext) -> pd.DataFrame:
    epsilon = context.protocol["epsilon"]
    with float64():
        rows = [
            *forward_example(epsilon),
            *sigmoid_gate(epsilon),
            *chain_rule(epsilon),
            *torch_illustration(epsilon),
        ]
    return pd.DataFrame(rows)

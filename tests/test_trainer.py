"""The batched trainer: exact backpropagation, and each model as if trained alone."""

from dataclasses import replace

import pytest
import torch

from dlexp.activations import PER_MODEL_ELEMENTS, activation
from dlexp.data import synthetic_classification
from dlexp.dropout import Masks, epoch_masks
from dlexp.measures import accuracy_and_cost
from dlexp.models import StackedMLP
from dlexp.trainer import Schedule, train, train_stack

from .stacks import DATA, final_weights, spec


def autograd_gradients(
    net: StackedMLP, model: int, x, labels, masks: Masks | None = None
) -> list[torch.Tensor]:
    """The same network written with torch.nn ops and differentiated by autograd; with `masks`,
    their dropout (model `model`'s rows), without, the test pass's scaling by p."""
    params = []
    for layer in net.own_layers(model):
        params.append(net.weights[layer][model].clone().requires_grad_())
        params.append(net.biases[layer][model].clone().requires_grad_())
    s = net.specs[model]
    if masks is None:
        a = x * s.input_keep_prob
    else:
        a = x * masks.inputs[model] if masks.inputs is not None else x
    for i in range(0, len(params) - 2, 2):
        z = a @ params[i].T + params[i + 1]
        f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}.get(
            s.activation, lambda v: torch.nn.functional.leaky_relu(v, s.leak)
        )(z)
        if masks is None:
            f = f * s.keep_prob
        elif masks.hidden[i // 2] is not None:
            f = f * masks.hidden[i // 2][model]
        a = a + f if (s.residual and i > 0) else f
    z = a @ params[-2].T + params[-1]
    y = torch.nn.functional.one_hot(labels, z.shape[-1]).float()
    if s.output == "softmax":
        cost = torch.nn.functional.cross_entropy(z, labels, reduction="sum")
    elif s.cost == "quadratic":
        cost = 0.5 * ((torch.sigmoid(z) - y) ** 2).sum()
    else:
        cost = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum")
    (cost / len(x)).backward()
    return [p.grad for p in params]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"cost": "quadratic"},
        {"output": "softmax"},
        {"activation": "relu", "leak": 0.01, "weight_init": "he"},
        {"activation": "tanh"},
        {"residual": True},
    ],
)
def test_backpropagation_matches_autograd(changes):
    specs = [spec(**changes), spec(seed=1, sizes=(20, 8, 4), **changes)]
    net = StackedMLP(specs)
    x, labels = DATA.images[:32], DATA.labels[:32]
    grad_w, grad_b = net.gradients(x, labels)
    for model in range(2):
        expected = autograd_gradients(net, model, x, labels)
        ours = []
        for layer in net.own_layers(model):
            ours += [grad_w[layer][model], grad_b[layer][model]]
        for got, want in zip(ours, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_a_model_in_a_batch_of_six_trains_as_if_alone():
    six = [
        spec(variant="plain", seed=0),
        spec(variant="plain", seed=1),
        spec(variant="deep", seed=2, sizes=(20, 8, 8, 8, 4)),
        spec(variant="shallow", seed=3, sizes=(20, 8, 4), output="softmax"),
        spec(variant="l2", seed=4, l2=5.0, eta=0.2),
        spec(variant="dropout-l1", seed=5, keep_prob=0.5, l1=1.0, cost="quadratic"),
    ]
    together = final_weights(six, one_stack=True)
    for s in six:
        alone = final_weights([s])[(s.variant, s.seed)]
        for got, want in zip(together[(s.variant, s.seed)], alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_models_with_the_same_seed_share_their_initialisation():
    net = StackedMLP([spec(), spec(variant="w", eta=0.1)])
    torch.testing.assert_close(net.weights[0][0], net.weights[0][1])


def test_one_full_batch_step_is_w_decayed_by_eta_lambda_over_n_minus_eta_gradient():
    s = spec(eta=1.0, l2=10.0, batch_size=200)
    initial = StackedMLP([s])
    grad_w, _ = initial.gradients(DATA.images, DATA.labels)
    after = final_weights([s], epochs=1)[("v", 0)][0]
    expected = (1 - 1.0 * 10.0 / 200) * initial.weights[0][0] - 1.0 * grad_w[0][0]
    torch.testing.assert_close(after, expected, rtol=1e-4, atol=1e-5)


def test_full_batch_models_share_their_input_and_train_as_if_alone():
    """Full-batch stacks multiply the one shared input once for all models; each model still ends
    where it ends alone (where the product is per model)."""
    full = [
        spec(variant="plain", seed=0, batch_size=200),
        spec(variant="l2", seed=1, batch_size=200, l2=5.0, eta=0.2),
        spec(variant="momentum", seed=2, batch_size=200, momentum=0.9, eta=0.1),
    ]
    for group in ([s for s in full if s.momentum == 0], [full[2], replace(full[2], seed=3)]):
        together = final_weights(group, one_stack=True, epochs=4)
        for s in group:
            alone = final_weights([s], epochs=4)[(s.variant, s.seed)]
            for got, want in zip(together[(s.variant, s.seed)], alone, strict=True):
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_training_learns_and_is_deterministic():
    splits = {"train": DATA}
    first = train([spec(), spec(seed=1)], DATA, Schedule(epochs=15), [accuracy_and_cost(splits)])
    again = train([spec(), spec(seed=1)], DATA, Schedule(epochs=15), [accuracy_and_cost(splits)])
    assert first.equals(again)
    acc = first[first.metric == "train_accuracy"].set_index(["seed", "epoch"])["value"]
    assert acc.loc[(0, 15)] > 0.9 and acc.loc[(1, 15)] > 0.9
    assert acc.loc[(0, 0)] < 0.6


def test_nan_and_inf_are_recorded_not_raised():
    exploding = spec(eta=1e38, weight_init="large")
    table = train([exploding], DATA, Schedule(epochs=2), [accuracy_and_cost({"train": DATA})])
    cost = table[(table.metric == "train_cost") & (table.epoch == 2)]["value"]
    assert not torch.isfinite(torch.tensor(cost.to_numpy())).all()


def test_per_layer_measures_report_each_models_own_layers():
    def norms(net: StackedMLP) -> dict[str, torch.Tensor]:
        _, grad_b = net.gradients(DATA.images, DATA.labels)
        return {"bias_gradient_norm": torch.stack([g.norm(dim=1) for g in grad_b], dim=1)}

    specs = [spec(sizes=(20, 8, 4)), spec(variant="deep", sizes=(20, 8, 8, 8, 4))]
    table = train(specs, DATA, Schedule(epochs=1), [norms])
    layers = table[table.epoch == 0].groupby("variant")["layer"].apply(sorted).to_dict()
    assert layers == {"v": [1, 2], "deep": [1, 2, 3, 4]}


def epoch_mask_table(net: StackedMLP, n: int, layer: int) -> torch.Tensor:
    """One epoch's masks of `layer` (0: inputs, l: hidden layer l) as [M, n, units]."""
    steps = [([masks.inputs, *masks.hidden])[layer] for masks in epoch_masks(net, n)]
    m = net.specs[0].batch_size
    return torch.cat([mask.expand(-1, m, -1) for mask in steps], dim=1)[:, :n]


def test_dropout_deletes_a_unit_for_a_whole_mini_batch_with_probability_one_minus_p():
    net = StackedMLP([spec(keep_prob=0.5, sizes=(20, 200, 4)), spec(seed=1, sizes=(20, 200, 4))])
    masks = epoch_mask_table(net, 200, layer=1)
    batches = masks[0].view(20, 10, 200)
    assert torch.equal(batches, batches[:, :1].expand_as(batches))  # one mask per mini-batch
    assert 0.45 < batches[:, 0].mean().item() < 0.55
    assert torch.equal(masks[1], torch.ones(200, 200))  # p = 1 keeps every unit


def test_per_example_masks_differ_between_the_examples_of_a_mini_batch():
    example = spec(sizes=(400, 300, 4), keep_prob=0.5, input_keep_prob=0.8, dropout_masks="example")
    batch = spec(seed=1, sizes=(400, 300, 4), keep_prob=0.5, input_keep_prob=0.8)
    net = StackedMLP([example, batch, spec(seed=2, sizes=(400, 300, 4))])
    for layer, p in ((0, 0.8), (1, 0.5)):
        masks = epoch_mask_table(net, 1000, layer)
        rows = masks[0].view(100, 10, -1)
        assert not torch.equal(rows[:, 1:], rows[:, :1].expand(-1, 9, -1))
        assert all(len({tuple(r.tolist()) for r in b}) == 10 for b in rows)  # all ten different
        assert abs(masks[0].mean().item() - p) < 0.01 and abs(masks[1].mean().item() - p) < 0.01
        per_batch = masks[1].view(100, 10, -1)
        assert torch.equal(per_batch, per_batch[:, :1].expand_as(per_batch))
        assert abs(per_batch[:, 0].mean().item() - p) < 0.02
        assert torch.equal(masks[2], torch.ones_like(masks[2]))


def test_an_unused_layer_draws_no_masks_and_a_mask_free_stack_draws_none():
    net = StackedMLP([spec(), spec(seed=1, sizes=(20, 8, 8, 8, 4))])
    assert all(m.inputs is None and m.hidden == [None] * 3 for m in epoch_masks(net, 30))


@pytest.mark.parametrize("mode", ["mini-batch", "example"])
@pytest.mark.parametrize("residual", [False, True])
def test_backpropagation_with_dropout_masks_matches_autograd(mode, residual):
    dropping = {"keep_prob": 0.5, "input_keep_prob": 0.8, "dropout_masks": mode}
    specs = [spec(residual=residual, **dropping), spec(seed=1, sizes=(20, 8, 4), **dropping)]
    specs[1] = replace(specs[1], residual=residual)
    net = StackedMLP(specs)
    masks = next(iter(epoch_masks(net, 32)))
    x, labels = DATA.images[:10], DATA.labels[:10]
    trace = net.forward(x.expand(2, *x.shape).contiguous(), masks)
    ours = {
        layer: (delta, previous)
        for layer, delta, previous, _ in net.backprop(
            trace, net.targets(labels).expand(2, -1, -1), masks
        )
    }
    for model in range(2):
        expected = autograd_gradients(net, model, x, labels, masks)
        got = []
        for layer in net.own_layers(model):
            delta, previous = ours[layer]
            got += [delta[model].T @ previous[model] / 10, delta[model].sum(0) / 10]
        for g, want in zip(got, expected, strict=True):
            torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-6)


def test_the_test_pass_scales_the_inputs_by_their_keep_probability():
    net = StackedMLP([spec(input_keep_prob=0.8), spec(seed=1, input_keep_prob=0.5)])
    plain = StackedMLP([spec(), spec(seed=1)])
    x = DATA.images[:50]
    for model, p in enumerate((0.8, 0.5)):
        want = plain.forward(x * p).output[model]
        torch.testing.assert_close(net.forward(x).output[model], want)
        torch.testing.assert_close(net.forward(x.expand(2, -1, -1)).output[model], want)
    grad_w, grad_b = net.gradients(x, DATA.labels[:50])
    for model in range(2):
        expected = autograd_gradients(net, model, x, DATA.labels[:50])
        ours = [t[layer][model] for layer in net.own_layers(model) for t in (grad_w, grad_b)]
        for got, want in zip(ours, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_models_with_input_dropout_and_per_example_masks_train_as_if_alone():
    mixed = [
        spec(variant="inputs", seed=0, input_keep_prob=0.8),
        spec(variant="example", seed=1, keep_prob=0.5, dropout_masks="example"),
        spec(variant="both", seed=2, keep_prob=0.5, input_keep_prob=0.8, dropout_masks="example"),
        spec(variant="batch", seed=3, keep_prob=0.5, input_keep_prob=0.8),
        spec(
            variant="deep", seed=4, sizes=(20, 8, 8, 8, 4), keep_prob=0.5, dropout_masks="example"
        ),
        spec(variant="none", seed=5, sizes=(20, 8, 4)),
    ]
    together = final_weights(mixed, epochs=2, one_stack=True)
    for s in mixed:
        alone = final_weights([s], epochs=2)[(s.variant, s.seed)]
        for got, want in zip(together[(s.variant, s.seed)], alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_one_input_for_all_models_gives_the_same_first_layer_as_stacked_inputs():
    net = StackedMLP([spec(), spec(seed=1), spec(seed=2, sizes=(20, 8, 4))])
    x = DATA.images[:50]
    shared = net.forward(x)
    stacked = net.forward(x.expand(3, *x.shape).contiguous())
    torch.testing.assert_close(shared.zs[0], stacked.zs[0])
    torch.testing.assert_close(shared.output, stacked.output)


def test_a_pass_on_a_shared_input_runs_in_columns_and_matches_the_rows_at_every_layer():
    """Models of 1–3 hidden layers (pass-throughs), one with input dropout: every z^l, a^l and
    gradient of the column pass agrees with the row pass on stacked inputs, and z^L comes back
    in rows for the reductions over its units."""
    net = StackedMLP(
        [
            spec(sizes=(20, 8, 4)),
            spec(seed=1, sizes=(20, 8, 8, 8, 4), output="softmax"),
            spec(seed=2, sizes=(20, 8, 8, 4), input_keep_prob=0.8, keep_prob=0.5),
        ]
    )
    x, labels = DATA.images[:50], DATA.labels[:50]
    stacked = x.expand(3, *x.shape).contiguous()
    shared, rows = net.forward(x), net.forward(stacked)
    assert net.columns and shared.zs[0].mT.is_contiguous() and shared.zs[-1].is_contiguous()
    for got, want in zip([*shared.zs, *shared.activations], [*rows.zs, *rows.activations]):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(net.gradients(x, labels), net.gradients(stacked, labels))


def test_stacks_whose_units_must_stay_copies_keep_the_row_pass():
    net = StackedMLP([spec(weight_init="equal", weight_value=0.3), spec(seed=1)])
    assert not net.columns and not net.forward(DATA.images[:50]).zs[0].mT.is_contiguous()


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("normalized", 400**-0.5),
        ("large", 1.0),
        ("he", (2 / 400) ** 0.5),
        ("glorot", (2 / (400 + 300)) ** 0.5),
        ("small", 0.01),
    ],
)
def test_random_weight_inits_have_their_standard_deviation(init, std):
    weight = StackedMLP([spec(sizes=(400, 300, 4), weight_init=init)]).weights[0][0]
    assert abs(weight.std().item() / std - 1) < 0.01 and abs(weight.mean().item()) < 0.01 * std


def test_equal_weights_keep_every_hidden_unit_an_exact_copy_of_the_others():
    """Deck 004: "If weights are all equal ... Network doesn't train": the units of a hidden layer
    get equal errors, so they stay identical whatever the training does."""
    equal = spec(sizes=(20, 8, 8, 4), weight_init="equal", weight_value=0.3, bias_mean=0.1)
    net = StackedMLP([equal])
    assert torch.equal(net.weights[0], torch.full_like(net.weights[0], 0.3))
    assert torch.equal(net.biases[1], torch.full_like(net.biases[1], 0.1))
    train_stack(net, DATA, Schedule(epochs=3), [])
    for layer in range(2):
        weight, bias = net.weights[layer][0], net.biases[layer][0]
        assert torch.equal(weight, weight[:1].expand_as(weight))  # every unit's row the same
        assert torch.equal(bias, bias[:1].expand_as(bias))
    output = net.weights[2][0]
    assert torch.equal(output, output[:, :1].expand_as(output))  # sees one hidden unit, 8 times
    assert not torch.equal(net.weights[0], torch.full_like(net.weights[0], 0.3))  # it did learn
    hidden = net.forward(DATA.images).activations[1][0]
    assert torch.equal(hidden, hidden[:, :1].expand_as(hidden))


def test_the_equal_init_shuffles_as_the_random_inits_of_its_seed():
    order = []
    for init in ("normalized", "equal"):
        net = StackedMLP([spec(weight_init=init)])
        order.append(torch.randperm(50, generator=net.generators[0]))
    assert torch.equal(*order)


@pytest.mark.parametrize("leak", [0.0, 0.01])
def test_relu_with_one_slope_is_the_per_model_slope_bit_for_bit_in_the_same_layout(leak):
    """The fused kernels of a stack whose models share their slope give exactly what the
    per-model column gives, signed zeros, inf and NaN included, in the same memory layout (the
    products after them would round otherwise), here a test pass's columns."""
    z = torch.randn(3, 30, 200, generator=torch.Generator().manual_seed(0)).mul_(4).mT
    z[0, :4, 0] = torch.tensor([float("inf"), -float("inf"), float("nan"), -0.0])
    upstream = torch.randn(3, 200, 30, generator=torch.Generator().manual_seed(1))
    upstream[1, 0, :2] = torch.tensor([float("inf"), -0.0])
    one, per_model = (
        activation("relu", leak=leak),
        activation("relu", leak=torch.full((3, 1, 1), leak)),
    )
    in_z_layout = torch.empty_like(z).copy_(upstream)  # an upstream in z's layout too
    for fused, general in (
        (one.value(z), per_model.value(z)),
        (one.times_derivative(upstream, z, None), per_model.times_derivative(upstream, z, None)),
        (
            one.times_derivative(in_z_layout, z, None),
            per_model.times_derivative(in_z_layout, z, None),
        ),
    ):
        assert fused.stride() == general.stride()
        assert torch.equal(fused.view(torch.int32), general.view(torch.int32))  # every bit


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_relu_with_different_slopes_model_by_model_is_the_column_bit_for_bit(layout):
    """Large tensors of a stack with different slopes go through the fused kernels model by
    model: exactly the values, signed zeros, inf and NaN of `torch.where` over the column, in
    the same layout, for f and for upstream ⊙ f' (of an upstream in z's layout or not)."""
    slopes = torch.tensor([0.0, 0.01, 0.1]).view(3, 1, 1)
    shape = (3, 1_000, 30) if layout == "rows" else (3, 30, 1_000)
    z = torch.randn(*shape, generator=torch.Generator().manual_seed(0)).mul_(4)
    z = z if layout == "rows" else z.mT
    z[:, 0, :4] = torch.tensor([float("inf"), -float("inf"), float("nan"), -0.0])
    relu = activation("relu", leak=slopes)
    assert z[0].numel() >= PER_MODEL_ELEMENTS
    general_value = torch.where(z > 0, z, z * slopes)
    for upstream in (torch.randn(3, 1_000, 30), torch.ones_like(z)):
        general = upstream * torch.where(z > 0, 1.0, slopes)
        for fused, expected in ((relu.value(z), general_value),
                                (relu.times_derivative(upstream, z, None), general)):  # fmt: skip
            assert fused.stride() == expected.stride()
            assert torch.equal(fused.view(torch.int32), expected.view(torch.int32))


def test_the_sigmoid_for_exact_copies_rounds_every_element_alike():
    """37 equal pre-activations give 37 equal σ(z), the last ones included. torch.sigmoid's CPU
    kernel computes the elements after its last full 32-wide block another way and rounds them
    differently for 6 of 101 values of z in [−12, 12] (measured), which would split units that
    start as exact copies."""
    sigmoid = activation("sigmoid", exact_copies=True)
    for z in torch.linspace(-12, 12, 2001):
        f = sigmoid.value(torch.full((3, 37), float(z)))
        assert torch.equal(f, f[:1, :1].expand_as(f))


def test_units_that_start_equal_stay_exact_copies_through_training():
    """Deck 004's symmetry, exactly: with every weight equal, the hidden units of a layer get
    the same gradient at every step, so they stay bit-identical, beside a randomly initialised
    model of the same stack (30 units: NumPy's BLAS would round them apart, measured)."""
    data = synthetic_classification(200, n_features=784, n_classes=4, seed=3)
    sizes = (784, 30, 30, 4)
    equal = spec(weight_init="equal", weight_value=0.01, bias_mean=0.0, sizes=sizes)
    net = StackedMLP([equal, spec(seed=1, sizes=sizes)])
    train_stack(net, data, Schedule(3), [])
    assert not torch.equal(net.weights[0][0], torch.full_like(net.weights[0][0], 0.01))
    for layer in range(2):
        weights, biases = net.weights[layer][0], net.biases[layer][0]
        assert torch.equal(weights, weights[:1].expand_as(weights))
        assert torch.equal(biases, biases[:1].expand_as(biases))
    assert not torch.equal(net.weights[0][1], net.weights[0][1][:1].expand_as(net.weights[0][1]))

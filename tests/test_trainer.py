"""The batched trainer: exact backpropagation, and each model as if trained alone."""

from dataclasses import replace

import pytest
import torch

from dlexp.data import synthetic_classification
from dlexp.measures import accuracy_and_cost
from dlexp.models import ModelSpec, StackedMLP
from dlexp.trainer import Schedule, train, train_stack

DATA = synthetic_classification(200, n_features=20, n_classes=4, seed=3)


def spec(**changes) -> ModelSpec:
    base = ModelSpec(variant="v", seed=0, sizes=(20, 8, 8, 4), eta=0.5, batch_size=10)
    return replace(base, **changes)


def autograd_gradients(net: StackedMLP, model: int, x, labels) -> list[torch.Tensor]:
    """The same network written with torch.nn ops and differentiated by autograd."""
    params = []
    for layer in net.own_layers(model):
        params.append(net.weights[layer][model].clone().requires_grad_())
        params.append(net.biases[layer][model].clone().requires_grad_())
    s = net.specs[model]
    a = x
    for i in range(0, len(params) - 2, 2):
        z = a @ params[i].T + params[i + 1]
        f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}.get(
            s.activation, lambda v: torch.nn.functional.leaky_relu(v, s.leak)
        )(z)
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


def final_weights(
    specs: list[ModelSpec], epochs: int = 3, one_stack: bool = False
) -> dict[tuple[str, int], list]:
    """Train and return every model's own parameters, keyed by (variant, seed); `one_stack`
    forces all of them into a single stacked computation."""
    captured = {}

    def capture(net: StackedMLP) -> dict[str, torch.Tensor]:
        for m, s in enumerate(net.specs):
            captured[(s.variant, s.seed)] = [
                t[layer][m].clone()
                for layer in net.own_layers(m)
                for t in (net.weights, net.biases)
            ]
        return {}

    schedule = Schedule(epochs=epochs, measure_every=epochs)
    if one_stack:
        train_stack(StackedMLP(specs), DATA, schedule, [capture])
    else:
        train(specs, DATA, schedule, [capture])
    return captured


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


def test_dropout_deletes_a_unit_for_a_whole_mini_batch_with_probability_one_minus_p():
    from dlexp.trainer import epoch_dropout_masks

    net = StackedMLP([spec(keep_prob=0.5, sizes=(20, 200, 4)), spec(seed=1, sizes=(20, 200, 4))])
    masks = epoch_dropout_masks(net, n=200)[0]  # [M, n, units]
    batches = masks[0].view(20, 10, 200)
    assert torch.equal(batches, batches[:, :1].expand_as(batches))  # one mask per mini-batch
    assert 0.45 < batches[:, 0].mean().item() < 0.55
    assert torch.equal(masks[1], torch.ones(200, 200))  # p = 1 keeps every unit


def test_one_input_for_all_models_gives_the_same_first_layer_as_stacked_inputs():
    net = StackedMLP([spec(), spec(seed=1), spec(seed=2, sizes=(20, 8, 4))])
    x = DATA.images[:50]
    shared = net.forward(x)
    stacked = net.forward(x.expand(3, *x.shape).contiguous())
    torch.testing.assert_close(shared.zs[0], stacked.zs[0])
    torch.testing.assert_close(shared.output, stacked.output)

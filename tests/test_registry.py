"""Experiment declarations: scales, overrides and the errors a user can cause."""

import shutil

import pytest

from dlexp.protocol import validate_protocol
from dlexp.registry import ExperimentError, available, load, load_all, parse_setting
from dlexp.runner import code_of, prepare

SHIPPED = {"vanishing-gradient", "depth-vs-accuracy"}


def test_every_shipped_declaration_loads_and_names_existing_checks():
    assert set(available()) >= SHIPPED
    for experiment in load_all():
        assert experiment.claim and experiment.source.deck and experiment.claims
        assert "tiny" in experiment.scales and "lecture" in experiment.scales
        for scale in experiment.scales:
            assert isinstance(experiment.resolve(scale)["seeds"], int)


def test_scales_override_the_lecture_protocol():
    experiment = load("vanishing-gradient")
    lecture, tiny = experiment.resolve("lecture"), experiment.resolve("tiny")
    assert lecture["epochs"] == 500 and lecture["train_images"] == 1000
    assert tiny["epochs"] < lecture["epochs"]
    assert tiny["exploding"] == lecture["exploding"]


def test_overrides_are_typed_like_the_protocol():
    experiment = load("vanishing-gradient")
    settings = ["epochs=100", "eta=0.5", "depths=[2, 5]", "exploding.weight=10"]
    raw = experiment.resolve("lecture", dict(map(parse_setting, settings)))
    protocol = validate_protocol(code_of(experiment).protocol, raw)
    assert protocol["epochs"] == 100 and protocol["eta"] == 0.5
    assert protocol["depths"] == [2, 5]
    assert protocol["exploding"]["weight"] == 10.0 and isinstance(
        protocol["exploding"]["weight"], float
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epoch=3", "unknown key 'epoch' (did you mean epochs?)"),
        ("epochs=many", "epochs = 'many' is not allowed: input should be a valid integer"),
        ("epochs", "--set takes key=value"),
        ("depths=[a]", "--set 'depths=[1, 2]'"),
    ],
)
def test_bad_overrides_say_what_is_wrong(override, message):
    experiment = load("vanishing-gradient")
    with pytest.raises(ExperimentError) as error:
        prepare(experiment, "lecture", dict([parse_setting(override)]), None)
    assert message in str(error.value)


def test_unknown_experiment_suggests_close_names():
    with pytest.raises(ExperimentError, match="did you mean vanishing-gradient"):
        load("vanishing-gradients")


def test_unknown_scale_lists_the_scales():
    with pytest.raises(ExperimentError, match="choose one of: lecture, tiny"):
        load("vanishing-gradient").resolve("huge")


def test_an_edited_copy_runs_by_path(tmp_path):
    copy = tmp_path / "mine.toml"
    shutil.copy(available()["vanishing-gradient"], copy)
    copy.write_text(copy.read_text().replace("epochs = 500", "epochs = 7"))
    assert load(str(copy)).resolve()["epochs"] == 7


def test_a_declaration_with_an_unknown_check_is_rejected(tmp_path):
    broken = tmp_path / "broken.toml"
    text = available()["vanishing-gradient"].read_text()
    broken.write_text(text.replace('check = "exploding_factor"', 'check = "nope"'))
    with pytest.raises(ExperimentError, match="names check 'nope'"):
        prepare(load(str(broken)), "tiny", {}, None)

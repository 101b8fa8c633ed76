"""Typed config: defaults, TOML/JSON override files, unknown keys, command-line overrides, round trips."""
import dataclasses

import pytest

from asr import config
from asr.config import Config, FeatureConfig, ModelConfig, TrainConfig


def test_defaults():
    cfg = Config()
    assert cfg.features == FeatureConfig()
    assert (cfg.features.sample_rate_hz, cfg.features.window_ms, cfg.features.hop_ms) == (16000, 25.0, 10.0)
    assert (cfg.features.num_mels, cfg.features.min_hz, cfg.features.max_hz) == (80, 20.0, None)
    assert (cfg.model.cell, cfg.model.bidirectional, cfg.model.layers, cfg.model.units) == ("lstm", True, 3, 256)
    assert (cfg.model.stack_frames, cfg.model.conv_channels, cfg.model.num_tokens) == (4, 0, 29)
    assert (cfg.train.epochs, cfg.train.spec_augment, cfg.train.precision) == (20, True, "float32")
    assert config.load() == cfg


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().model.units = 3


def test_toml_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text('[model]\nunits = 128\ncell = "gru"\n\n[train]\nepochs = 3\nspec_augment = false\n')
    cfg = config.load(path)
    assert cfg.model == ModelConfig(units=128, cell="gru")
    assert cfg.train == TrainConfig(epochs=3, spec_augment=False)
    assert cfg.features == FeatureConfig()


def test_explicit_overrides_apply_after_the_file(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text("[model]\nunits = 128\nlayers = 2\n")
    cfg = config.load(path, overrides={"model": {"units": 64}})
    assert (cfg.model.units, cfg.model.layers) == (64, 2)


def test_json_file(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text('{"features": {"num_mels": 40}}')
    assert config.load(path).features.num_mels == 40


@pytest.mark.parametrize("toml, names", [
    ("[modle]\nunits = 3\n", ["modle", "top level"]),
    ("epochs = 3\n", ["epochs", "top level"]),
    ("[model]\nunitz = 3\n", ["unitz", "model"]),
    ("[train]\nlearning_rte = 0.1\n", ["learning_rte", "train"]),
])
def test_unknown_key_in_a_file_is_an_error_naming_it(tmp_path, toml, names):
    path = tmp_path / "typo.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match="unknown config key") as info:
        config.load(path)
    for name in names:
        assert name in str(info.value)


def test_unknown_key_in_overrides_or_dict_is_an_error():
    with pytest.raises(ValueError, match="stack_frame\\b"):
        config.load(overrides={"model": {"stack_frame": 2}})
    with pytest.raises(ValueError, match="bogus"):
        config.from_dict({"bogus": {}})
    with pytest.raises(ValueError, match="in features: hop"):
        config.from_dict({"features": {"hop": 5}})


@pytest.mark.parametrize("text, expected", [
    ("model.units=128", {"model": {"units": 128}}),
    ("model.cell=gru", {"model": {"cell": "gru"}}),  # bare string
    ('model.cell="lstm"', {"model": {"cell": "lstm"}}),
    ("train.spec_augment=false", {"train": {"spec_augment": False}}),
    ("train.learning_rate=3e-4", {"train": {"learning_rate": 3e-4}}),
    ("train.precision=mixed_bfloat16", {"train": {"precision": "mixed_bfloat16"}}),
    ("seed=1", {"seed": 1}),
])
def test_parse_override(text, expected):
    parsed = config.parse_override(text)
    assert parsed == expected
    assert type(leaf(parsed)) is type(leaf(expected))  # 128 an int, false a bool (1 == True would pass ==)


def leaf(nested: dict):
    """The one value at the bottom of a single-key nested dict."""
    while isinstance(nested, dict):
        (nested,) = nested.values()
    return nested


def test_parse_override_needs_an_equals_sign():
    with pytest.raises(ValueError, match="section.key=value"):
        config.parse_override("model.units")


def test_parsed_overrides_load():
    overrides = config.merge(config.parse_override("model.units=128"), config.parse_override("model.cell=gru"))
    overrides = config.merge(overrides, config.parse_override("train.spec_augment=false"))
    cfg = config.load(overrides=overrides)
    assert (cfg.model.units, cfg.model.cell, cfg.train.spec_augment) == (128, "gru", False)


def test_merge_is_recursive_and_does_not_mutate():
    base = {"a": {"x": 1, "y": 2}, "b": 3}
    overrides = {"a": {"y": 5}, "c": 4}
    assert config.merge(base, overrides) == {"a": {"x": 1, "y": 5}, "b": 3, "c": 4}
    assert base == {"a": {"x": 1, "y": 2}, "b": 3}
    assert overrides == {"a": {"y": 5}, "c": 4}
    assert config.merge(base, {"a": 7}) == {"a": 7, "b": 3}  # a non-dict value replaces a section


def test_to_dict_from_dict_round_trip(tmp_path):
    cfg = Config(features=FeatureConfig(num_mels=40, max_hz=7600.0),
                 model=ModelConfig(cell="gru", units=64, stack_frames=3, conv_channels=8, conv_stride=2),
                 train=TrainConfig(epochs=2, spec_augment=False, precision="mixed_bfloat16"))
    values = cfg.to_dict()
    assert values["model"]["units"] == 64 and values["features"]["max_hz"] == 7600.0
    assert config.from_dict(values) == cfg
    cfg.save(tmp_path / "config.json")
    assert config.load(tmp_path / "config.json") == cfg
    assert config.from_dict({}) == Config()


@pytest.mark.parametrize("stack_frames, conv_stride, expected", [(4, 1, 4), (1, 1, 1), (3, 2, 6), (2, 0, 2)])
def test_subsampling(stack_frames, conv_stride, expected):
    assert ModelConfig(stack_frames=stack_frames, conv_stride=conv_stride).subsampling == expected


def test_a_run_may_start_from_weights_with_other_dropout_or_tokens_but_not_another_shape():
    base = ModelConfig(layers=4, units=320, dropout=0.2, tokens="phones", num_tokens=41)
    assert base.same_encoder(dataclasses.replace(base, dropout=0.3))
    assert base.same_encoder(ModelConfig(layers=4, units=320, dropout=0.2))  # characters: a new output layer
    for other in (dataclasses.replace(base, units=256), dataclasses.replace(base, layers=5),
                  dataclasses.replace(base, cell="gru"), dataclasses.replace(base, stack_frames=3),
                  dataclasses.replace(base, bidirectional=False)):
        assert not base.same_encoder(other)

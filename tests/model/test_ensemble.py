"""asr.model.ensemble: a model directory with an ensemble.json averages its networks' log posteriors, everywhere a model
directory is run (NumPy, TensorFlow, export), and a description that does not fit is a one-line error."""
import dataclasses
import json

import keras
import numpy as np
import pytest

from asr.config import Config, FeatureConfig, ModelConfig
from asr.decoding.text import Vocabulary
from asr.model import ensemble
from asr.model.stream import NotStreamable
from asr.training import export
from asr.training.checkpoint import CheckpointError, save_model_dir
from asr.training.keras_model import build_model
from asr.training.reference import KerasReference
from asr.transcribe import Transcriber

CFG = Config(features=FeatureConfig(num_mels=16),
             model=ModelConfig(cell="lstm", layers=2, units=12, stack_frames=3, dropout=0.0))
VOCAB = Vocabulary()
CLIP = (np.sin(np.arange(9000) / 9) * np.linspace(0, 0.5, 9000)).astype(np.float32)  # 0.56 s at 16 kHz


def save(path, seed: int, cfg: Config = CFG, vocab: Vocabulary = VOCAB):
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_tokens=vocab.size))
    keras.utils.set_random_seed(seed)
    model = build_model(cfg.model, cfg.features.num_mels)
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(size=cfg.features.num_mels) - 8, rng.uniform(1, 3, cfg.features.num_mels))
    for w in model.weights:  # weights large enough that two seeds disagree clearly
        w.assign(rng.normal(scale=0.4, size=w.shape).astype(np.float32))
    save_model_dir(path, cfg, vocab, model)
    return path


def describe(model_dir, spec) -> None:
    (model_dir / ensemble.ENSEMBLE_FILE).write_text(json.dumps(spec))


@pytest.fixture
def pair(tmp_path):
    """(ensemble directory, its own network's log posteriors of CLIP, the member's), shares 3:1."""
    own, member = save(tmp_path / "model", 1), save(tmp_path / "model" / "other", 2)
    alone = Transcriber(own, lm=False).log_probs(CLIP), Transcriber(member, lm=False).log_probs(CLIP)
    describe(own, {"weight": 3, "members": [{"dir": "other", "weight": 1}]})
    return own, *alone


def test_a_directory_without_a_description_is_its_own_network(tmp_path):
    own = save(tmp_path / "model", 1)
    assert ensemble.members(own) == [(own, 1.0)]
    assert not isinstance(Transcriber(own, lm=False).model, ensemble.NumpyEnsemble)


def test_shares_are_scaled_to_sum_to_one(pair):
    own, _, _ = pair
    assert ensemble.members(own) == [(own, 0.75), (own / "other", 0.25)]


def test_the_ensemble_gives_the_renormalised_weighted_mean_of_its_networks(pair):
    own, first, second = pair
    assert np.abs(first - second).max() > 0.5  # the two networks really differ
    transcriber = Transcriber(own, lm=False)
    assert isinstance(transcriber.model, ensemble.NumpyEnsemble)
    got = transcriber.log_probs(CLIP)
    mixed = 0.75 * first + 0.25 * second
    expected = mixed - np.log(np.exp(mixed).sum(axis=1, keepdims=True))
    assert got.shape == first.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.exp(got).sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(got, first, atol=0.05) and not np.allclose(got, second, atol=0.05)


def test_tensorflow_and_numpy_agree_on_an_ensemble(pair):
    transcriber = Transcriber(pair[0], lm=False)
    np.testing.assert_allclose(transcriber.log_probs(CLIP), KerasReference(transcriber.model_dir).log_probs(CLIP), atol=1e-4)


def test_an_exported_ensemble_averages_its_networks_inside_the_graph(pair, tmp_path):
    own = pair[0]
    transcriber = Transcriber(own, lm=False)
    out = export.export(str(own), "savedmodel", tmp_path / "exported")
    exported = export.load_exported(out)
    np.testing.assert_allclose(exported.log_probs(CLIP), KerasReference(transcriber.model_dir).log_probs(CLIP), atol=1e-5)
    assert exported.meta["ensemble"] == {"networks": 2, "weights": [0.75, 0.25]}


def test_an_ensemble_does_not_stream(pair):
    with pytest.raises(NotStreamable, match="ensemble of 2 networks"):
        Transcriber(pair[0], lm=False).streaming()


@pytest.mark.parametrize("spec, message", [
    ("not json", "not an ensemble description"),
    ({"members": [{"dir": "other", "weight": 1}]}, "not an ensemble description"),
    ({"weight": 1, "members": [{"weight": 1}]}, "not an ensemble description"),
    ({"weight": 1, "members": []}, "at least one member"),
    ({"weight": 1, "members": [{"dir": "other", "weight": 0}]}, "positive"),
    ({"weight": "1", "members": [{"dir": "other", "weight": 1}]}, "positive"),
])
def test_a_malformed_description_is_a_one_line_error_naming_it(tmp_path, spec, message):
    own = save(tmp_path / "model", 1)
    save(own / "other", 2)
    file = own / ensemble.ENSEMBLE_FILE
    file.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    with pytest.raises(CheckpointError, match=message) as error:
        Transcriber(own, lm=False)
    assert str(file) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("member, problem", [
    (lambda path: save(path, 2, cfg=dataclasses.replace(CFG, features=FeatureConfig(num_mels=20))),
     "another front end"),
    (lambda path: save(path, 2, cfg=dataclasses.replace(CFG, model=dataclasses.replace(CFG.model, stack_frames=2))),
     "another time subsampling"),
    (lambda path: save(path, 2, vocab=Vocabulary(characters="abc")), r"4 tokens \(chars\), not 29 \(chars\)"),
    (lambda path: save(path, 2, vocab=Vocabulary(characters=VOCAB.characters[::-1])), r"other tokens \(tokens.txt\)"),
    (lambda path: path, "not a model directory"),
])
def test_a_member_that_does_not_fit_is_a_one_line_error_naming_it(tmp_path, member, problem):
    own = save(tmp_path / "model", 1)
    member(own / "other")
    describe(own, {"weight": 1, "members": [{"dir": "other", "weight": 1}]})
    with pytest.raises(CheckpointError, match=problem) as error:
        Transcriber(own, lm=False)
    assert str(own / "other") in str(error.value) and "\n" not in str(error.value)


def test_members_may_differ_in_shape(tmp_path):
    own = save(tmp_path / "model", 1)
    wider = dataclasses.replace(CFG, model=dataclasses.replace(CFG.model, layers=1, units=20, cell="gru"))
    save(own / "other", 2, cfg=wider)
    describe(own, {"weight": 1, "members": [{"dir": "other", "weight": 1}]})
    transcriber = Transcriber(own, lm=False)
    np.testing.assert_allclose(transcriber.log_probs(CLIP), KerasReference(transcriber.model_dir).log_probs(CLIP), atol=1e-4)


def test_an_ensemble_counts_every_network_s_parameters_and_weights(pair):
    from asr.training.checkpoint import load_keras, load_network
    from asr.training.keras_model import count_parameters
    own = pair[0]
    alone = [count_parameters(load_network(path)[1]) for path in (own, own / "other")]
    assert count_parameters(load_keras(own)[2]) == sum(alone) == Transcriber(own, lm=False).model.parameters
    assert ensemble.weights_bytes(own) == sum((p / "model.npz").stat().st_size for p in (own, own / "other"))

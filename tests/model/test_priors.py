"""Token priors divided out of the posteriors in the beam search (asr/model/priors.py): estimated, saved and checked;
read by the Recognizer only with an LM and a non-zero prior_scale, offline and streamed alike."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_with_lm, write_manifest

from asr.decoding.ctc import timed_hypotheses
from asr.model import priors
from asr.models import CheckpointError
from asr.recognizer import DECODING_FILE, UtteranceDecoder
from asr.transcribe import Transcriber

CLIP = "librispeech-2428-83699-0011.opus"


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - x.max(1, keepdims=True)


def test_estimate_is_the_mean_posterior_over_all_frames():
    a = _log_softmax([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    b = _log_softmax([[0.0, 0.0, 3.0]])
    prior, frames = priors.estimate([a, np.zeros([0, 3]), b])
    assert frames == 3
    np.testing.assert_allclose(prior, np.exp(np.concatenate([a, b])).mean(axis=0))
    assert prior.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no frames"):
        priors.estimate([np.zeros([0, 3])])


def test_apply_divides_by_the_prior_and_renormalises():
    log_probs = _log_softmax([[0.0, 1.0, 0.9], [3.0, 0.0, 0.0]])
    log_prior = np.log([0.5, 0.45, 0.05])
    out = priors.apply(log_probs, log_prior, 0.5)
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0, rtol=1e-6)
    expected = _log_softmax(log_probs - 0.5 * log_prior)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert log_probs[0].argmax() == 1 and out[0].argmax() == 2  # the rare token wins a close frame
    np.testing.assert_allclose(priors.apply(log_probs, log_prior, 0.0), log_probs, atol=1e-6)
    assert priors.apply(np.zeros([0, 3]), log_prior, 0.5).shape == (0, 3)


def test_save_and_load_round_trip_and_bad_files_name_themselves(tmp_path):
    tokens = ["<blank>", " ", "a"]
    path = tmp_path / priors.PRIORS_FILE
    priors.save(path, np.array([0.5, 0.3, 0.2]), tokens, 10, "test")
    np.testing.assert_allclose(priors.load(path, tokens), np.log([0.5, 0.3, 0.2]))
    assert json.loads(path.read_text())["frames"] == 10
    with pytest.raises(CheckpointError, match=f"{path}: written for tokens"):
        priors.load(path, ["<blank>", " ", "b"])
    for content, message in [("{", "not a usable priors file"), ('{"tokens": ["<blank>", " ", "a"]}', "not a usable"),
                             ('{"tokens": ["<blank>", " ", "a"], "prior": [0.5, 0.5, 0.0]}', "positive"),
                             ('{"tokens": ["<blank>", " ", "a"], "prior": [0.5, 0.5, 0.5]}', "summing to 1")]:
        path.write_text(content)
        with pytest.raises(CheckpointError, match=f"{path}: .*{message}"):
            priors.load(path, tokens)
    with pytest.raises(ValueError, match="2 priors for 3 tokens"):
        priors.save(path, np.array([0.5, 0.5]), tokens, 1, "test")


@pytest.fixture(scope="module")
def model_with_priors(tmp_path_factory, tiny_model_dir, sample_rows):
    """The tiny model with an LM, its token priors (estimated on the sample clips) and prior_scale 0.5."""
    folder = copy_with_lm(tiny_model_dir, tmp_path_factory.mktemp("priors") / "model", sample_rows,
                          {"beam_width": 12, "lm_weight": 0.4, "word_bonus": 0.5, "prior_scale": 0.5})
    manifest = write_manifest(folder.parent / "clips.jsonl", list(sample_rows.values()))
    script = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "estimate_priors.py"
    run = subprocess.run([sys.executable, str(script), str(folder), str(manifest), "--clips", "4"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    saved = json.loads((folder / priors.PRIORS_FILE).read_text())
    assert f"{saved['frames']} frames; most frequent: " in run.stdout and saved["frames"] > 100
    assert saved["source"] == "4 clips of clips.jsonl (seed 0)" and saved["tokens"][0] == "<blank>"
    return folder


def test_the_beam_search_reads_divided_posteriors_and_greedy_does_not(model_with_priors, samples_dir):
    model = Transcriber(model_with_priors)
    assert model.decoding.prior_scale == 0.5 and model.log_prior is not None
    log_probs = model.log_probs(np.zeros(16000, np.float32) + 0.01 * np.random.default_rng(0).standard_normal(16000)
                                .astype(np.float32))
    np.testing.assert_allclose(model.search_input(log_probs), priors.apply(log_probs, model.log_prior, 0.5))
    # decode() searches the divided posteriors: the same as a search run on them by hand
    from asr.audio.load import load_audio
    log_probs = model.log_probs(load_audio(samples_dir / CLIP, model.sample_rate_hz))
    by_hand = model.new_search()
    by_hand.advance(priors.apply(log_probs, model.log_prior, 0.5))
    plain = model.new_search()
    plain.advance(log_probs)
    best = model.decode(log_probs, 1.0)
    assert best.text == model.in_words(timed_hypotheses(by_hand.nbest()[:1], log_probs, model.vocab,
                                                        model.frame_s)[0]).text
    assert by_hand.nbest()[0][1] != pytest.approx(plain.nbest()[0][1])  # the scores are the divided ones
    # without the LM (greedy) or with prior_scale 0 the posteriors are read as they are
    assert Transcriber(model_with_priors, lm=False).log_prior is None
    off = Transcriber(model_with_priors, prior_scale=0.0)
    assert off.log_prior is None and off.search_input(log_probs) is log_probs


def test_a_stream_searches_the_same_divided_posteriors(model_with_priors, samples_dir):
    from asr.audio.load import load_audio
    model = Transcriber(model_with_priors)
    log_probs = model.log_probs(load_audio(samples_dir / CLIP, model.sample_rate_hz))
    decoder = UtteranceDecoder(model)
    for start in range(0, len(log_probs), 7):
        decoder.advance(log_probs[start:start + 7])
    assert decoder.final().text == model.decode(log_probs, 1.0).text
    divided, plain = model.new_search(), model.new_search()
    divided.advance(priors.apply(log_probs, model.log_prior, 0.5))
    plain.advance(log_probs)
    assert decoder.search.nbest()[0][1] == pytest.approx(divided.nbest()[0][1], abs=1e-4)
    assert decoder.search.nbest()[0][1] != pytest.approx(plain.nbest()[0][1], abs=1e-2)


def test_a_prior_scale_without_priors_is_a_checkpoint_error(model_with_priors, tmp_path, samples_dir):
    bare = tmp_path / "bare"
    shutil.copytree(model_with_priors, bare)
    (bare / priors.PRIORS_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{bare / priors.PRIORS_FILE}: no token priors, which prior_scale 0.5"):
        Transcriber(bare)
    assert Transcriber(bare, lm=False).beam_width == 1  # greedy needs none
    from asr.cli import main
    assert main(["transcribe", "--quiet", "--model", str(bare), "--prior-scale", "0", str(samples_dir / CLIP)]) == 0
    assert main(["transcribe", "--quiet", "--model", str(bare), str(samples_dir / CLIP)]) == 2


@pytest.mark.parametrize("name", ["english-phones", "english-stream", "english"])
def test_the_shipped_models_decode_with_their_own_priors(name, samples_dir):
    from asr import models
    model = Transcriber(models.resolve(name))
    assert model.decoding.prior_scale > 0 and model.log_prior is not None
    saved = json.loads((model.model_dir / priors.PRIORS_FILE).read_text())
    assert saved["tokens"] == model.vocab.symbols() and saved["frames"] > 10_000
    assert np.exp(model.log_prior).sum() == pytest.approx(1.0, abs=1e-3)
    text = model.transcribe(samples_dir / CLIP).text
    assert text == "all night it had been blowing and raining" if name == "english-phones" else text


def test_a_bad_prior_scale_is_refused_in_one_line(model_with_priors, tmp_path, samples_dir, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(model_with_priors, broken)
    (broken / DECODING_FILE).write_text('{"prior_scale": -1}')
    with pytest.raises(CheckpointError, match=f"{broken / DECODING_FILE}: prior_scale must be a number of at least 0"):
        Transcriber(broken)
    from asr.cli import main
    for value in ["nan", "-0.5", "x"]:
        with pytest.raises(SystemExit) as exit_:
            main(["transcribe", "--model", str(model_with_priors), "--prior-scale", value, str(samples_dir / CLIP)])
        assert exit_.value.code == 2
        assert f"argument --prior-scale: must be a number of at least 0, got '{value}'" in capsys.readouterr().err

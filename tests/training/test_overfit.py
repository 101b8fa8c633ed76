"""The smoke recipe: a tiny model overfits a few sample clips (session fixture in conftest.py), the loss falls,
and the experiment directory describes itself."""
import json

import pytest

from asr import load_model
from asr.config import Config
from asr.decoding.text import normalize
from asr.training.checkpoint import read_metrics

OVERFIT_ID = "2428-83699-0011"  # the clip tests/conftest.py trains on, with the digits
DIGIT_IDS = ("0_jackson_0", "7_nicolas_1", "9_yweweler_2")


def train_log(experiment):
    return [json.loads(line) for line in (experiment / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(str(tiny_model_dir))


def test_greedy_decode_of_a_training_clip_is_its_transcript(model, sample_rows):
    assert model.lexicon is None and model.beam_width == 1  # greedy
    clip = sample_rows[OVERFIT_ID]
    expected = normalize(clip["text"])
    assert expected == "all night it had been blowing and raining"
    assert model.transcribe(clip["audio"]).text == expected


@pytest.mark.parametrize("utt_id", DIGIT_IDS)
def test_digits_are_overfit_too(model, sample_rows, utt_id):
    assert model.transcribe(sample_rows[utt_id]["audio"]).text == sample_rows[utt_id]["text"]


def test_training_loss_fell(tiny_experiment):
    log = train_log(tiny_experiment)
    assert [e["epoch"] for e in log] == [1, 2, 3, 4]
    assert log[-1]["train_loss"] < 0.1 * log[0]["train_loss"]
    assert log[-1]["valid_loss"] < log[0]["valid_loss"]
    assert log[-1]["valid_wer"] == 0.0


def test_experiment_directory_describes_itself(tiny_experiment):
    config = json.loads((tiny_experiment / "config.json").read_text())
    assert config["model"]["units"] == 64 and config["train"]["epochs"] == 4
    assert Config().to_dict().keys() == config.keys()
    assert (tiny_experiment / "tokens.txt").read_text().splitlines()[:2] == ["<blank>", "<space>"]
    best = tiny_experiment / "best"
    assert {"model.npz", "config.json", "tokens.txt", "metrics.json"} <= {p.name for p in best.iterdir()}
    assert json.loads((best / "config.json").read_text()) == config
    metrics = read_metrics(best)
    assert metrics["valid_wer"] == 0.0 and metrics["parameters"] > 0
    assert list((tiny_experiment / "logs").glob("events.out.tfevents.*"))
    checkpoints = sorted((tiny_experiment / "checkpoints").glob("step-*"))
    assert 1 <= len(checkpoints) <= 2  # keep_checkpoints
    assert {"model.npz", "optimizer.npz", "state.json"} <= {p.name for p in checkpoints[-1].iterdir()}
    state = json.loads((checkpoints[-1] / "state.json").read_text())
    assert state["epoch"] == 4 and state["batch_in_epoch"] == 0 and state["best_wer"] == 0.0
    assert (tiny_experiment / "last" / "model.npz").is_file()

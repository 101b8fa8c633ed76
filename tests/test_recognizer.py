"""A model directory's own word LM and decoding.json: used by default, overridden by arguments, switched off,
and checked; the LM's vocabulary as a lexicon."""
import json
import shutil

import pytest
from conftest import copy_with_lm

from asr.audio.load import load_audio
from asr.decoding.text import normalize
from asr.models import CheckpointError
from asr.recognizer import DECODING_FILE, LM_FILE, LM_MIX_FILE, DecodingConfig
from asr.transcribe import Transcriber

CLIP = "librispeech-2428-83699-0011.opus"  # "all night it had been blowing and raining": the tiny model knows it


@pytest.fixture(scope="module")
def model_with_lm(tmp_path_factory, tiny_model_dir, sample_rows):
    """The tiny model directory plus an LM estimated from the sample transcripts and a decoding.json."""
    return copy_with_lm(tiny_model_dir, tmp_path_factory.mktemp("with-lm") / "model", sample_rows,
                        {"beam_width": 12, "lm_weight": 0.4, "word_bonus": 0.5, "lm_words_only": True})


def test_the_model_directory_lm_and_its_settings_are_the_default(model_with_lm, samples_dir):
    model = Transcriber(model_with_lm)
    assert model.lm_path == model_with_lm / LM_FILE and model.beam_width == 12
    assert (model.decoding.lm_weight, model.decoding.word_bonus) == (0.4, 0.5)
    words = {w for r in (samples_dir / "samples.jsonl").read_text().splitlines()
             for w in normalize(json.loads(r)["text"]).split()}
    assert model.lexicon is not None and len(model.lexicon.words) == len(words)  # lm_words_only
    assert model.transcribe(samples_dir / CLIP).text == "all night it had been blowing and raining"


def test_arguments_override_the_settings_and_lm_false_switches_it_off(model_with_lm, tmp_path):
    model = Transcriber(model_with_lm, lm_weight=1.5, word_bonus=-1.0, beam_width=20)
    assert (model.decoding.lm_weight, model.decoding.word_bonus, model.beam_width) == (1.5, -1.0, 20)
    assert model.lm.weight == 1.5 and model.lm.word_bonus == -1.0
    off = Transcriber(model_with_lm, lm=False)
    assert off.lm is None and off.lm_path is None and off.lexicon is None and off.beam_width == 1
    other = tmp_path / "other.arpa.gz"
    shutil.copy(model_with_lm / LM_FILE, other)
    assert Transcriber(model_with_lm, lm=other).lm_path == other
    with pytest.raises(FileNotFoundError, match="missing.arpa: no such language model file"):
        Transcriber(model_with_lm, lm=tmp_path / "missing.arpa")
    for name, content in [("gzip-named-arpa.arpa", other.read_bytes()), ("text.arpa", b"hello\n")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=f"{name}: not a usable language model"):
            Transcriber(model_with_lm, lm=tmp_path / name)


def test_the_token_prune_of_decoding_json_reaches_the_search(model_with_lm, tmp_path, samples_dir):
    assert Transcriber(model_with_lm).new_search().token_prune == -12.0  # the default
    tight = tmp_path / "tight"
    shutil.copytree(model_with_lm, tight)
    saved = json.loads((tight / DECODING_FILE).read_text())
    (tight / DECODING_FILE).write_text(json.dumps({**saved, "token_prune": -1e-6}))
    model = Transcriber(tight)
    assert model.decoding.token_prune == -1e-6 and model.new_search().token_prune == -1e-6
    # only each frame's best token is ever extended: the beam's best is the greedy path's
    log_probs = model.search_input(model.hear(load_audio(samples_dir / CLIP, model.sample_rate_hz)))
    search = model.new_search()
    search.advance(log_probs)
    greedy = [t for i, t in enumerate(log_probs.argmax(1)) if t != model.vocab.blank_id
              and (i == 0 or t != log_probs[i - 1].argmax())]
    assert list(search.nbest()[0][0]) == greedy


def test_a_model_without_an_lm_decodes_greedily_unless_asked(tiny_model_dir):
    assert Transcriber(tiny_model_dir).beam_width == 1
    assert Transcriber(tiny_model_dir, beam_width=5).beam_width == 5


@pytest.mark.parametrize("content, message", [('{"beam": 3}', "unknown key"), ("{", "cannot read"),
                                              ('{"token_prune": 0}', "token_prune must be a negative number"),
                                              ('{"token_prune": "x"}', "token_prune must be a negative number")])
def test_a_bad_decoding_json_is_a_checkpoint_error_naming_it(model_with_lm, tmp_path, content, message):
    broken = tmp_path / "broken"
    shutil.copytree(model_with_lm, broken)
    (broken / DECODING_FILE).write_text(content)
    with pytest.raises(CheckpointError, match=f"{DECODING_FILE}: {message}"):
        DecodingConfig.of_model(broken)


def test_the_cli_takes_no_lm_and_lm_flags(model_with_lm, samples_dir, capsys):
    from asr.cli import main
    assert main(["transcribe", "--quiet", "--model", str(model_with_lm), "--no-lm", str(samples_dir / CLIP)]) == 0
    assert main(["transcribe", "--quiet", "--model", str(model_with_lm), "--lm", str(model_with_lm / LM_FILE),
                 "--lm-weight", "0.2", str(samples_dir / CLIP)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "all night it had been blowing and raining"
    both = ["--lm", "x.arpa", "--no-lm"]
    with pytest.raises(SystemExit) as exit_:  # argparse: mutually exclusive
        main(["transcribe", "--model", str(model_with_lm), *both, str(samples_dir / CLIP)])
    assert exit_.value.code == 2


def test_the_default_english_model_decodes_with_its_own_lm_and_vocabulary(samples_dir):
    from asr import load_model
    from asr.models import DEFAULT_MODEL, SHIPPED_DIR
    model = load_model()
    assert model.lm_path == SHIPPED_DIR / DEFAULT_MODEL / LM_MIX_FILE and model.beam_width >= 8
    assert model.lexicon is not None and len(model.lexicon.words) > 10_000
    text = model.transcribe(samples_dir / CLIP).text
    assert text and all(tuple(model.vocab.encode(w)) in model.lexicon.words for w in text.split())

"""asr.decoding.mixlm: a linear mix of word models (exact interpolation, a proper distribution), pocketsphinx's general
English 3-gram behind the decoder's LM interface, lm.json files, and a model directory that decodes with a mix."""
import json
import math
import shutil
import sys

import pytest
from test_lm import MARKOV

from asr.decoding import lm as lm_lib
from asr.decoding.mixlm import MISSING_UNK_LOG10, MixedLM, SphinxLM, load_lm
from asr.models import CheckpointError
from asr.recognizer import DECODING_FILE, LM_FILE, LM_MIX_FILE
from asr.transcribe import Transcriber

# two models over different vocabularies: w0..w149 and (from the shifted corpus) v-words alongside some w-words
SHIFTED = [[w.replace("w1", "v1") for w in s] for s in MARKOV[::-1]]


@pytest.fixture(scope="module")
def two_lms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    lm_lib.write_arpa(lm_lib.estimate(MARKOV, order=3), folder / "a.arpa")
    lm_lib.write_arpa(lm_lib.estimate(SHIFTED, order=2), folder / "b.arpa.gz")
    return folder


def test_a_mix_is_the_weighted_sum_of_its_models(two_lms):
    a, b = lm_lib.NGramLM.from_arpa(two_lms / "a.arpa"), lm_lib.NGramLM.from_arpa(two_lms / "b.arpa.gz")
    mix = MixedLM([(a, 0.3), (b, 0.7)])
    assert mix.vocab == a.vocab | b.vocab and len(mix.vocab) > len(a.vocab)
    state, sa, sb = mix.begin_state(), a.begin_state(), b.begin_state()
    for word in SHIFTED[0] + MARKOV[3]:
        got, state = mix.score(state, word)
        pa, sa = a.score(sa, word)
        pb, sb = b.score(sb, word)
        expected = 0.3 * 10 ** pa * (word in a.vocab) + 0.7 * 10 ** pb * (word in b.vocab)
        assert got == pytest.approx(math.log10(expected), abs=1e-9), word
    only_in_b = next(w for w in b.vocab - a.vocab if w.startswith("v"))
    assert mix.score(mix.begin_state(), only_in_b)[0] == pytest.approx(
        math.log10(0.7) + b.score(b.begin_state(), only_in_b)[0])


def test_a_mix_is_a_distribution_after_every_history(two_lms):
    """Each model sums to one over its own words and gives nothing to others: the mix sums to one over the union."""
    mix = load_lm_json(two_lms, [{"arpa": "a.arpa", "weight": 0.6}, {"arpa": "b.arpa.gz", "weight": 0.4}])
    words = [w for w in mix.vocab if w != "<s>"]
    for sentence in (MARKOV[0], SHIFTED[5], ["w1", "zzz", "v12"]):
        state = mix.begin_state()
        for word in [None] + sentence:
            if word is not None:
                state = mix.score(state, word)[1]
            assert math.fsum(10 ** mix.score(state, w)[0] for w in words) == pytest.approx(1.0, abs=1e-5)


def load_lm_json(folder, parts):
    (folder / "mix.json").write_text(json.dumps({"mix": parts}))
    return load_lm(folder / "mix.json")


@pytest.mark.parametrize("parts, message", [
    ([{"arpa": "a.arpa", "weight": 0.5}, {"arpa": "b.arpa.gz", "weight": 0.4}], "sum to 1"),
    ([{"arpa": "a.arpa", "weight": 1.5}, {"arpa": "b.arpa.gz", "weight": -0.5}], "positive"),
    ([{"arpa": "a.arpa"}], "needs one of"),
    ([{"arpa": "a.arpa", "pocketsphinx": "en-us", "weight": 1.0}], "needs one of"),
    ([], "expected"),
])
def test_a_bad_mix_description_is_refused(two_lms, parts, message):
    with pytest.raises(ValueError, match=message):
        load_lm_json(two_lms, parts)


def test_a_mix_naming_a_missing_file_fails(two_lms):
    with pytest.raises(OSError):
        load_lm_json(two_lms, [{"arpa": "nowhere.arpa", "weight": 1.0}])


def test_pocketsphinx_general_english_model():
    pytest.importorskip("pocketsphinx")
    lm = SphinxLM("en-us")
    assert len(lm.vocab) > 50_000 and {"the", "of", "night", "raining"} <= lm.vocab and "zzyzzx" not in lm.vocab
    start = lm.begin_state()
    the, state = lm.score(start, "the")
    assert state == ("<s>", "the") and -3 < the < 0
    # a 3-gram: "one of the" is far likelier than "one of of"; the history is the last two words
    _, after_one = lm.score(start, "one")
    _, after_one_of = lm.score(after_one, "of")
    assert after_one_of == ("one", "of")
    assert lm.score(after_one_of, "the")[0] > lm.score(after_one_of, "of")[0] + 1.5
    assert lm.score(after_one_of, "the")[0] > lm.score(lm.score(start, "blue")[1], "the")[0]
    assert lm.score(start, "zzyzzx")[0] == MISSING_UNK_LOG10
    with pytest.raises(ValueError, match="no model 'klingon'"):
        SphinxLM("klingon")


def test_a_model_directory_with_lm_json_decodes_with_the_mix(tiny_model_dir, sample_rows, samples_dir, tmp_path):
    """lm.json wins over lm.arpa.gz; --lm takes a mix too; a broken lm.json is a one-line CheckpointError."""
    from asr.decoding.text import normalize
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    sentences = [normalize(r["text"]).split() for r in sample_rows.values()]
    lm_lib.write_arpa(lm_lib.estimate(sentences, order=2, discount_fallback=(0.5, 1.0, 1.5)), folder / LM_FILE)
    other = [["the", "cat", "sat", "on", "the", "mat"], ["a", "cat", "sat"], ["the", "mat"]]
    lm_lib.write_arpa(lm_lib.estimate(other, order=2, discount_fallback=(0.5, 1.0, 1.5)), folder / "other.arpa")
    (folder / LM_MIX_FILE).write_text(json.dumps({"mix": [{"arpa": LM_FILE, "weight": 0.8},
                                                          {"arpa": "other.arpa", "weight": 0.2}]}))
    (folder / DECODING_FILE).write_text(json.dumps({"beam_width": 8, "lm_weight": 0.4, "word_bonus": 0.5,
                                                    "lm_words_only": True}))
    model = Transcriber(folder)
    assert model.lm_path == folder / LM_MIX_FILE and isinstance(model.lm.lm, MixedLM)
    words = {model.vocab.decode(w) for w in model.lexicon.words}  # lm_words_only: the words of both models
    assert {"cat", "mat", "night", "raining"} <= words
    text = model.transcribe(samples_dir / "librispeech-2428-83699-0011.opus").text  # the tiny model knows it
    assert text == "all night it had been blowing and raining"
    assert Transcriber(folder, lm=folder / LM_FILE).lm_path == folder / LM_FILE
    (folder / LM_MIX_FILE).write_text('{"mix": [{"arpa": "lm.arpa.gz", "weight": 2}]}')
    with pytest.raises(CheckpointError, match=f"{LM_MIX_FILE}: not a usable language model.*sum to 1"):
        Transcriber(folder)


def test_without_pocketsphinx_a_model_falls_back_from_its_mix_to_its_arpa_lm(tiny_model_dir, sample_rows, samples_dir,
                                                                             tmp_path, monkeypatch, capsys):
    """lm.json needs pocketsphinx; without it the model decodes with lm.arpa.gz and the weights tuned for it
    (decoding.json's per_lm), and says so in a warning; with nothing to fall back to it is a CheckpointError."""
    from asr.decoding.text import normalize
    from asr.recognizer import LMFallbackWarning
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    sentences = [normalize(r["text"]).split() for r in sample_rows.values()]
    lm_lib.write_arpa(lm_lib.estimate(sentences, order=2, discount_fallback=(0.5, 1.0, 1.5)), folder / LM_FILE)
    (folder / LM_MIX_FILE).write_text(json.dumps({"mix": [{"arpa": LM_FILE, "weight": 0.5},
                                                          {"pocketsphinx": "en-us", "weight": 0.5}]}))
    (folder / DECODING_FILE).write_text(json.dumps({
        "beam_width": 8, "lm_weight": 0.4, "word_bonus": 2.0, "lm_words_only": True,
        "per_lm": {LM_FILE: {"lm_weight": 0.7, "word_bonus": 0.0}}}))
    with_mix = Transcriber(folder)
    assert with_mix.lm_path == folder / LM_MIX_FILE
    assert (with_mix.decoding.lm_weight, with_mix.decoding.word_bonus) == (0.4, 2.0)
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if it were not installed: importing it fails
    with pytest.warns(LMFallbackWarning, match=f"{LM_MIX_FILE} needs the pocketsphinx package.*"
                                               f"decoding with {LM_FILE} instead"):
        fallback = Transcriber(folder)
    assert fallback.lm_path == folder / LM_FILE and not isinstance(fallback.lm.lm, MixedLM)
    assert (fallback.decoding.lm_weight, fallback.decoding.word_bonus, fallback.decoding.beam_width) == (0.7, 0.0, 8)
    with pytest.warns(LMFallbackWarning):
        assert Transcriber(folder, lm_weight=0.2).decoding.lm_weight == 0.2  # what the caller gives still wins
    from asr.cli import main  # the command says so in one line on stderr, and transcribes
    assert main(["transcribe", "--model", str(folder), "--quiet", str(samples_dir / "fsdd-0_jackson_0.wav")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("asr: warning: ") and err.count("\n") == 1 and f"decoding with {LM_FILE} instead" in err
    (folder / LM_MIX_FILE).write_text(json.dumps({"mix": [{"pocketsphinx": "en-us", "weight": 1.0}]}))
    (folder / LM_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{LM_MIX_FILE}: needs the pocketsphinx package"):
        Transcriber(folder)

"""Phones as output units: the dictionary reader, spelling rules, the phone vocabulary and its model directory,
homophones chosen by the word LM, and a character model's weights lent to a phone model."""
import gzip
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from asr.config import Config, FeatureConfig, ModelConfig
from asr.decoding.ctc import beam_search
from asr.decoding.fusion import LanguageModelScore, homophones_of, lm_lexicon
from asr.decoding.phones import (
    CODE,
    PHONES,
    PRONUNCIATIONS_FILE,
    PhoneVocabulary,
    guess_pronunciation,
    read_cmudict,
    vocabulary,
)
from asr.decoding.text import Vocabulary
from asr.training.checkpoint import load_model_dir, save_model_dir
from asr.training.keras_model import build_model, load_weights, save_weights

PRONUNCIATIONS = {"cats": ["K", "AE", "T", "S"], "go": ["G", "OW"], "i": ["AY"], "to": ["T", "UW"],
                  "too": ["T", "UW"], "two": ["T", "UW"]}  # alphabetical, as in the CMU dictionary
VOCAB = PhoneVocabulary(PRONUNCIATIONS)


def codes(*phones: str) -> str:
    return "".join(CODE[p] for p in phones)


def test_read_cmudict_drops_stress_variants_and_comments(tmp_path):
    path = tmp_path / "dict"
    path.write_text("tomato T AH0 M EY1 T OW2\ntomato(2) T AH0 M AA1 T OW2\nread R IY1 D # present tense\n"
                    "odd ?? D\n\n")
    assert read_cmudict(path) == {"tomato": ["T", "AH", "M", "EY", "T", "OW"], "read": ["R", "IY", "D"]}


@pytest.mark.parametrize("word, phones", [("knight", "N AY T"), ("church", "CH ER CH"), ("city", "S IH T IY"),
                                          ("black", "B L AE K"), ("giant", "JH IH AE N T"), ("kara's", "K AA R AE Z"),
                                          ("fishing", "F IH SH IH NG"), ("sally", "S AE L IY")])
def test_spelling_rules_for_words_the_dictionary_lacks(word, phones):
    assert guess_pronunciation(word) == phones.split()


def test_only_text_can_be_pronounced():
    with pytest.raises(ValueError, match="cannot pronounce 'H'"):
        VOCAB.encode("H")


def test_phone_vocabulary_spells_text_as_pronunciations():
    assert VOCAB.size == len(PHONES) + 2 and VOCAB.space_id == 1
    assert VOCAB.spell("i go") == f"{codes('AY')} {codes('G', 'OW')}"
    ids = VOCAB.encode("two cats")
    assert VOCAB.decode(ids) == f"{codes('T', 'UW')} {codes('K', 'AE', 'T', 'S')}"
    assert VOCAB.pronounce("zed") == codes("Z", "EH", "D")  # not in the dictionary: the spelling rules
    assert VOCAB.word_for(codes("G", "OW")) == "go"
    assert VOCAB.word_for(codes("T", "UW")) == "to"  # homophones without an LM: the dictionary's first
    assert VOCAB.word_for(codes("Z", "UW")) == "to"  # no such word: the nearest pronunciation's (T UW)
    assert VOCAB.word_for(codes("Z", "UW"), prefer=len) == "too"  # ties go to the best score (here: the longest)
    assert PhoneVocabulary({}).word_for(codes("Z", "UW")) == "zuw"  # no dictionary at all: the phones run together


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_a_pronunciation_the_dictionary_lacks_gets_its_nearest_words_by_edit_distance():
    rng = np.random.default_rng(0)
    letters = CODE["AA"] + CODE["T"] + CODE["S"] + CODE["K"]  # four phones: many near misses and ties
    spellings = sorted({"".join(rng.choice(list(letters), rng.integers(1, 9))) for _ in range(300)})
    vocab = PhoneVocabulary.from_spellings([f"w{i}" for i in range(len(spellings))], spellings)
    for _ in range(60):
        query = "".join(rng.choice(list(letters), rng.integers(1, 11)))
        near = vocab.nearest_spellings(query)
        distances = {s: _edit_distance(query, s) for s in spellings if abs(len(s) - len(query)) <= max(2, len(query) // 2)}
        least = min(distances.values())
        assert list(near) == [s for s in spellings if distances.get(s) == least], query  # all ties, in order
        if query not in spellings:
            assert vocab.word_for(query) == f"w{spellings.index(near[0])}"


def test_phone_model_directory_round_trip(tmp_path):
    cfg = Config(features=FeatureConfig(num_mels=8), model=ModelConfig(cell="gru", layers=1, units=8, dropout=0.0,
                                                                      tokens="phones", num_tokens=VOCAB.size))
    model = build_model(cfg.model, 8)
    save_model_dir(tmp_path / "m", cfg, VOCAB, model)
    assert (tmp_path / "m" / PRONUNCIATIONS_FILE).is_file()
    symbols = (tmp_path / "m" / "tokens.txt").read_text().split()
    assert symbols[:2] == ["<blank>", "<space>"] and symbols[2:] == PHONES
    loaded_cfg, vocab, _ = load_model_dir(tmp_path / "m")
    assert loaded_cfg == cfg and isinstance(vocab, PhoneVocabulary) and vocab == VOCAB


def test_vocabulary_of_a_configuration():
    assert vocabulary("chars") == Vocabulary()
    with pytest.raises(ValueError, match="chars' or 'phones"):
        vocabulary("words")
    pytest.importorskip("pocketsphinx")
    phones = vocabulary("phones")
    assert len(phones.pronunciations) > 100_000 and phones.pronunciations["speech"] == ["S", "P", "IY", "CH"]


class BigramLM:
    """log10 P(word | previous word) from a table (-3 when absent); the state is the previous word."""

    def __init__(self, table: dict):
        self.table = table
        self.vocab = frozenset(w for pair in table for w in pair) - {"<s>"}

    def begin_state(self):
        return "<s>"

    def score(self, state, word):
        return self.table.get((state, word), -3.0), word


def test_the_lm_chooses_among_homophones_in_context():
    lm = BigramLM({("<s>", "i"): -0.5, ("i", "go"): -0.5, ("go", "to"): -0.3, ("go", "two"): -2.0,
                   ("<s>", "two"): -1.0, ("<s>", "to"): -1.5, ("two", "cats"): -0.5, ("to", "cats"): -2.5})
    homophones = homophones_of(lm, VOCAB)
    assert sorted(homophones[codes("T", "UW")]) == ["to", "two"]  # "too" is not a word of the LM
    assert homophones_of(lm, Vocabulary()) is None
    score = LanguageModelScore(lm, VOCAB, weight=1.0, word_bonus=0.0)
    tu, kats = codes("T", "UW"), codes("K", "AE", "T", "S")
    assert score.words((codes("AY"), codes("G", "OW"), tu)) == ("i", "go", "to")
    assert score.words((tu, kats)) == ("two", "cats")
    assert score.word_score(tuple(VOCAB.encode("two"))) == pytest.approx(-1.0 * math.log(10))


def test_a_lexicon_of_pronunciations_keeps_the_beam_to_words_of_the_lm():
    lm = BigramLM({("<s>", "go"): -0.5, ("<s>", "two"): -0.5})
    lexicon = lm_lexicon(lm, VOCAB)
    assert lexicon.words == {tuple(VOCAB.encode("go")), tuple(VOCAB.encode("two"))}
    # posteriors that say G then UW (no such word): the lexicon turns it into a word it knows
    g, uw, t = (VOCAB.characters.index(codes(p)) + 1 for p in ("G", "UW", "T"))
    probs = np.full((2, VOCAB.size), 1e-4)
    probs[0, g], probs[0, t], probs[1, uw] = 0.6, 0.3, 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    best = beam_search(np.log(probs), VOCAB, 0.04, 8, lexicon=lexicon)[0]
    assert best.text == codes("T", "UW")


def test_a_character_model_lends_all_but_its_output_layer(tmp_path):
    chars, phones = ModelConfig(cell="gru", layers=1, units=8, dropout=0.0), \
        ModelConfig(cell="gru", layers=1, units=8, dropout=0.0, tokens="phones", num_tokens=41)
    keras.utils.set_random_seed(1)
    source = build_model(chars, 8)
    save_weights(source, tmp_path / "w.npz", dtype=np.float32)
    keras.utils.set_random_seed(2)
    target = build_model(phones, 8)
    fresh_logits = [w.numpy().copy() for w in target.weights if "logits" in w.path]
    with pytest.raises(ValueError, match="shape"):
        load_weights(target, tmp_path / "w.npz")
    load_weights(target, tmp_path / "w.npz", skip=("logits",))
    for s, t in zip(source.weights, target.weights):
        if "logits" in t.path:
            continue
        np.testing.assert_array_equal(s.numpy(), t.numpy())
    for before, w in zip(fresh_logits, [w for w in target.weights if "logits" in w.path]):
        np.testing.assert_array_equal(before, w.numpy())


def test_a_recognizer_over_a_phone_model_writes_words(tmp_path):
    """Posteriors that say T UW K AE T S: with a word LM the recognizer writes "two cats" (not "to cats"), with
    word times; without one, the dictionary's word for each pronunciation."""
    from asr.decoding.lm import estimate, write_arpa
    from asr.recognizer import DecodingConfig, Recognizer
    write_arpa(estimate([s.split() for s in ["two cats", "two cats go", "i go to", "go to"]], order=2),
               tmp_path / "lm.arpa")
    phones = ["T", "UW", " ", "K", "AE", "T", "S"]
    probs = np.full((len(phones) * 2, VOCAB.size), 1e-4)
    for i, p in enumerate(phones):
        probs[2 * i, VOCAB.characters.index(codes(p) if p != " " else " ") + 1] = 1.0
        probs[2 * i + 1, 0] = 1.0
    log_probs = np.log(probs / probs.sum(axis=1, keepdims=True))
    with_lm = Recognizer(VOCAB, 16000, 0.04, None, lm=tmp_path / "lm.arpa")
    # no decoding.json: the defaults, but the beam kept to the LM's words (a phone model cannot spell others)
    assert with_lm.decoding == DecodingConfig(lm_words_only=True) and with_lm.beam_width == 16
    assert with_lm.lexicon is not None
    result = with_lm.decode(log_probs, 0.56)
    assert result.text == "two cats" and [w.word for w in result.words] == ["two", "cats"]
    assert result.words[1].start_s == pytest.approx(6 * 0.04)
    assert Recognizer(VOCAB, 16000, 0.04, None, lm=False).decode(log_probs, 0.56).text == "to cats"
    # a hotword is written as itself, even where the LM knows a homophone
    hot = Recognizer(VOCAB, 16000, 0.04, None, lm=tmp_path / "lm.arpa", hotwords={"too": 1.0})
    assert hot.decode(log_probs, 0.56).text.split()[0] == "too"


def test_without_an_lm_a_phone_models_beam_keeps_to_the_dictionarys_words():
    from asr.recognizer import Recognizer
    phones = ["Z", "UW", " ", "K", "AE", "T", "S"]  # "zuw" is no word of the dictionary
    probs = np.full((len(phones) * 2, VOCAB.size), 1e-4)
    for i, p in enumerate(phones):
        probs[2 * i, VOCAB.characters.index(codes(p) if p != " " else " ") + 1] = 1.0
        probs[2 * i + 1, 0] = 1.0
    log_probs = np.log(probs / probs.sum(axis=1, keepdims=True))
    greedy = Recognizer(VOCAB, 16000, 0.04, None, lm=False)
    assert greedy.lexicon is None and greedy.decode(log_probs, 0.56).text == "to cats"  # the nearest word
    beam = Recognizer(VOCAB, 16000, 0.04, None, lm=False, beam_width=8)
    assert beam.lexicon.words == {tuple(VOCAB.encode(w)) for w in PRONUNCIATIONS}
    text = beam.decode(log_probs, 0.56).text
    assert text.split()[-1] == "cats" and set(text.split()) <= set(PRONUNCIATIONS)
    assert Recognizer(VOCAB, 16000, 0.04, None, lm=False, beam_width=8, use_lexicon=False).lexicon is None


def test_the_shipped_phone_model_writes_words(samples_dir):
    from asr import load_model
    model = load_model("english-phones")
    assert isinstance(model.vocab, PhoneVocabulary) and model.lm is not None and model.lexicon is not None
    result = model.transcribe(samples_dir / "librispeech-2428-83699-0011.opus")  # all night it had been ...
    assert result.text.endswith("blowing and raining") and len(result.words) == len(result.text.split())


def test_greedy_output_of_the_shipped_phone_model_is_words_of_its_dictionary(samples_dir):
    from asr import load_model
    for lm in (True, False):
        model = load_model("english-phones", beam_width=1, lm=lm)
        words = set(model.vocab.pronunciations)
        for clip in sorted(samples_dir.glob("librispeech-*.opus")):
            text = model.transcribe(clip).text
            assert text and set(text.split()) <= words, (lm, clip.name, set(text.split()) - words)


def test_pronunciations_survive_gzip_bytes():
    vocab = PhoneVocabulary({"two": ["T", "UW"], "cats": ["K", "AE", "T", "S"]})
    assert PhoneVocabulary.from_gz(vocab.pronunciations_gz()) == vocab


def test_preferring_writes_the_likeliest_homophone_and_the_order_is_kept():
    tu = codes("T", "UW")
    log10_p = {"two": -2.0, "too": -1.5, "go": -1.0}
    preferred = VOCAB.preferring(lambda word: log10_p.get(word, -9.0))
    assert preferred == VOCAB and preferred.word_for(tu) == "too" and VOCAB.word_for(tu) == "to"
    assert list(preferred.pronunciations) == ["cats", "go", "i", "too", "two", "to"]  # where "to" stood
    assert PhoneVocabulary.from_gz(preferred.pronunciations_gz()).word_for(tu) == "too"
    assert VOCAB.preferring(lambda word: 0.0).word_for(tu) == "to"


def _prefer_homophones(*args):
    script = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "prefer_homophones.py"
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_prefer_homophones_reorders_a_model_directory_by_its_lm(tmp_path):
    from asr.decoding.lm import estimate, write_arpa
    VOCAB.save(tmp_path / "tokens.txt")
    assert _prefer_homophones(tmp_path).returncode == 2  # no LM to order by
    write_arpa(estimate([s.split() for s in ["go two cats", "two cats", "i go", "two"]], order=2),
               tmp_path / "lm.arpa.gz")
    run = _prefer_homophones(tmp_path)
    assert run.returncode == 0, run.stderr
    assert "6 words ordered by lm.arpa.gz; 1 sets of homophones now written otherwise, e.g. to -> two" in run.stdout
    reordered = PhoneVocabulary.load_dir(tmp_path)
    assert reordered == VOCAB and reordered.word_for(codes("T", "UW")) == "two"
    assert list(reordered.pronunciations)[-3:] == ["two", "to", "too"]  # not in the LM: last, alphabetically
    run = _prefer_homophones(tmp_path, "--alphabetical")
    assert run.returncode == 0 and "ordered alphabetically; 1 sets of homophones now written otherwise" in run.stdout
    assert PhoneVocabulary.load_dir(tmp_path).pronunciations_gz() == VOCAB.pronunciations_gz()
    marked = gzip.decompress(VOCAB.pronunciations_gz()).decode().replace("\ntoo T UW\n", "\ntoo T UW # g2p\n")
    (tmp_path / PRONUNCIATIONS_FILE).write_bytes(gzip.compress(marked.encode()))
    assert _prefer_homophones(tmp_path).returncode == 0
    assert "too T UW # g2p\n" in gzip.decompress((tmp_path / PRONUNCIATIONS_FILE).read_bytes()).decode()  # kept


def test_prefer_homophones_reads_a_packed_lm_as_the_parsed_one():
    from conftest import REPO_ROOT, load_script

    from asr.decoding.lm import NGramLM, PackedLM, estimate
    script = load_script(REPO_ROOT / "recipes" / "mini_librispeech" / "prefer_homophones.py", "prefer_homophones")
    model = estimate([s.split() for s in ["go two cats", "two cats", "i go", "two"]], order=3)
    parsed, packed = NGramLM(model), PackedLM(*PackedLM.pack(model))
    for word in ("two", "cats", "go", "i", "to"):
        assert script.unigram_log10(packed)(word) == pytest.approx(script.unigram_log10(parsed)(word), abs=2e-3)


def test_the_shipped_phone_model_writes_the_likeliest_homophone_without_an_lm():
    from asr import models
    vocab = PhoneVocabulary.load_dir(models.resolve("english-phones"))
    assert vocab.word_for(codes("DH", "EH", "R")) == "there" and vocab.word_for(codes("T", "UW")) == "to"
    assert vocab.word_for(codes("R", "AY", "T")) == "right" and vocab.word_for(codes("F", "AO", "R")) == "for"

"""Normalisation on hand-written examples; the character vocabulary, its ids and its tokens.txt file."""
import pytest

from asr.decoding.text import BLANK_ID, BLANK_SYMBOL, CHARACTERS, Vocabulary, normalize

VOCAB = Vocabulary()


@pytest.mark.parametrize("text, expected", [
    ("Don\u2019t", "don't"),  # curly apostrophe becomes a straight one and is kept inside the word
    ("don\u2018t", "don't"),
    ("don`t", "don't"),
    ("Café Déjà Vu", "cafe deja vu"),  # accents stripped
    ("naïve façade", "naive facade"),
    ("well-known twenty-one", "well known twenty one"),  # hyphens split words
    ("Hello, world! Is it 5 p.m.?", "hello world is it p m"),  # punctuation and digits become spaces
    ("'quoted' words", "quoted words"),  # quote-like apostrophes around a word are removed
    ("\u2018single\u2019 and \"double\"", "single and double"),
    ("He said: \u201cno.\u201d", "he said no"),
    ("a   b \t c\nd", "a b c d"),  # runs of whitespace become one space
    ("  leading and trailing  ", "leading and trailing"),
    ("", ""),
    ("   ", ""),
    ("?!...", ""),
    ("THE DOG'S BONE", "the dog's bone"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["Don\u2019t STOP -- 'now'", "Café, naïve!", "a  b", ""])
def test_normalize_is_idempotent_and_encodable(text):
    once = normalize(text)
    assert normalize(once) == once
    assert set(once) <= set(CHARACTERS)


def test_vocabulary_layout():
    assert VOCAB.size == 29
    assert VOCAB.blank_id == BLANK_ID == 0
    assert VOCAB.space_id == 1
    assert VOCAB.symbols()[:4] == [BLANK_SYMBOL, " ", "'", "a"]
    assert VOCAB.symbols()[-1] == "z" and len(VOCAB.symbols()) == 29


def test_encode_by_hand():
    # blank 0, space 1, apostrophe 2, a 3, b 4, ..., z 28
    assert VOCAB.encode("ab c") == [3, 4, 1, 5]
    assert VOCAB.encode("don't") == [6, 17, 16, 2, 22]
    assert VOCAB.encode("z") == [28]
    assert VOCAB.encode("") == []


def test_decode_drops_blanks_without_collapsing():
    assert VOCAB.decode([0, 3, 0, 3, 3, 0, 1, 4]) == "aaa b"
    assert VOCAB.decode([]) == ""


def test_encode_decode_round_trip():
    text = normalize("The quick brown fox jumps over the lazy dog's back, doesn't it?")
    ids = VOCAB.encode(text)
    assert BLANK_ID not in ids
    assert VOCAB.decode(ids) == text
    assert VOCAB.decode(VOCAB.encode(CHARACTERS)) == CHARACTERS
    assert sorted(VOCAB.encode(CHARACTERS)) == list(range(1, 29))


@pytest.mark.parametrize("text, bad", [("Hello", "H"), ("café", "é"), ("a-b", "-"), ("1", "1"), ("a\tb", "\t")])
def test_encode_rejects_characters_outside_the_vocabulary(text, bad):
    with pytest.raises(ValueError, match="outside the vocabulary") as info:
        VOCAB.encode(text)
    assert repr(bad) in str(info.value)


def test_save_writes_one_symbol_per_line_with_space_spelled_out(tmp_path):
    path = tmp_path / "tokens.txt"
    VOCAB.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:4] == ["<blank>", "<space>", "'", "a"]
    assert lines[-1] == "z" and len(lines) == 29
    assert " " not in "".join(lines)


def test_save_load_round_trip(tmp_path):
    path = tmp_path / "tokens.txt"
    VOCAB.save(path)
    assert Vocabulary.load(path) == VOCAB

    custom = Vocabulary("ab c")
    custom.save(tmp_path / "custom.txt")
    loaded = Vocabulary.load(tmp_path / "custom.txt")
    assert loaded == custom
    assert loaded.space_id == 3 and loaded.encode("c a") == [4, 3, 1]


@pytest.mark.parametrize("content, match", [
    ("", "first symbol"),
    ("<space>\na\n", "first symbol"),
    ("<blank>\nab\n", "single-character"),
])
def test_load_rejects_a_bad_file(tmp_path, content, match):
    path = tmp_path / "tokens.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)

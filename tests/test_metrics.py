"""WER/CER on hand-counted examples; every expected number is worked out in the comments."""
import json
import math

import pytest

from asr.metrics import Scores, format_alignment, score, summary_line, write_report


def test_one_substitution():
    # words: a b c d / a x c d -> 1 S over 4 reference words.
    # chars: "a b c d" is 7 characters (spaces count); only b -> x differs -> 1 S over 7.
    s = score(["a b c d"], ["a x c d"])
    assert (s.substitutions, s.deletions, s.insertions, s.reference_words) == (1, 0, 0, 4)
    assert s.wer == pytest.approx(1 / 4)
    assert s.cer == pytest.approx(1 / 7)


def test_one_deletion():
    # words: one two three / one three -> "two" deleted: 1 D over 3.
    # chars: 13 reference characters, the hypothesis has 9 -> "two" and one space deleted: 4 D over 13.
    s = score(["one two three"], ["one three"])
    assert (s.substitutions, s.deletions, s.insertions, s.reference_words) == (0, 1, 0, 3)
    assert s.wer == pytest.approx(1 / 3)
    assert s.cer == pytest.approx(4 / 13)


def test_one_insertion():
    # words: hello world / hello big world -> "big" inserted: 1 I over 2.
    # chars: 11 reference characters, 15 in the hypothesis -> "big" and a space inserted: 4 I over 11.
    s = score(["hello world"], ["hello big world"])
    assert (s.substitutions, s.deletions, s.insertions, s.reference_words) == (0, 0, 1, 2)
    assert s.wer == pytest.approx(1 / 2)
    assert s.cer == pytest.approx(4 / 11)


def test_corpus_level_sums_errors_over_all_utterances():
    # The three utterances above together: 1 S + 1 D + 1 I = 3 word errors over 4 + 3 + 2 = 9 words,
    # and 1 + 4 + 4 = 9 character errors over 7 + 13 + 11 = 31 characters.
    s = score(["a b c d", "one two three", "hello world"], ["a x c d", "one three", "hello big world"])
    assert (s.substitutions, s.deletions, s.insertions, s.reference_words, s.utterances) == (1, 1, 1, 9, 3)
    assert s.wer == pytest.approx(3 / 9)
    assert s.cer == pytest.approx(9 / 31)


def test_corpus_level_differs_from_mean_of_utterance_rates():
    # "a" -> "b" is 1 error over 1 word (100 %); the ten-word utterance is perfect (0 %).
    # Mean of per-utterance rates: (1.0 + 0.0) / 2 = 50 %. Corpus level: 1 error / 11 words = 9.09 %.
    ten_words = "a b c d e f g h i j"
    references, hypotheses = ["a", ten_words], ["b", ten_words]
    per_utterance = [score([r], [h]).wer for r, h in zip(references, hypotheses)]
    assert sum(per_utterance) / len(per_utterance) == pytest.approx(0.5)
    assert score(references, hypotheses).wer == pytest.approx(1 / 11)


def test_normalisation_applies_to_both_sides():
    assert score(["Hello, World!"], ["hello world"]).wer == 0.0
    assert score(["hello world"], ["Hello, World!"]).wer == 0.0
    # Case, punctuation and a hyphen: "Don't STOP -- well-known." normalises to "don't stop well known".
    s = score(["Don't STOP -- well-known."], ["don't stop well known"])
    assert (s.wer, s.cer, s.reference_words) == (0.0, 0.0, 4)


def test_empty_hypothesis_deletes_every_reference_token():
    # "good morning": 2 words and 12 characters, all deleted -> WER 2/2, CER 12/12.
    s = score(["good morning"], [""])
    assert (s.deletions, s.reference_words) == (2, 2)
    assert (s.wer, s.cer) == (1.0, 1.0)


def test_empty_reference_counts_hypothesis_words_as_insertions():
    # Utterance 1 has no reference words: "uh huh" is 2 word insertions and 6 character insertions.
    # Utterance 2 "yes" is correct: 1 reference word, 3 reference characters.
    # WER = 2 / 1 = 2.0; CER = 6 / 3 = 2.0.
    s = score(["", "yes"], ["uh huh", "yes"])
    assert (s.insertions, s.deletions, s.substitutions, s.reference_words) == (2, 0, 0, 1)
    assert s.wer == pytest.approx(2.0)
    assert s.cer == pytest.approx(2.0)


def test_corpus_without_reference_words():
    # Nothing said and nothing recognised: no errors -> 0.0. Anything recognised -> infinite rate.
    # "..." normalises to an empty reference, so it counts as one too.
    assert score(["", "..."], ["", "!"]) == Scores(0.0, 0.0, 0, 0, 0, 0, 2)
    s = score(["..."], ["hi there"])
    assert (s.insertions, s.reference_words) == (2, 0)
    assert math.isinf(s.wer) and math.isinf(s.cer)
    assert summary_line(s) == "WER inf% [2 / 0, 2 ins, 0 del, 0 sub] CER inf% over 1 utterances"


def test_no_utterances():
    assert score([], []) == Scores(0.0, 0.0, 0, 0, 0, 0, 0)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        score(["a", "b"], ["a"])


def test_summary_line_format():
    scores = Scores(wer=0.125, cer=0.041, substitutions=2, deletions=2, insertions=1, reference_words=40,
                    utterances=10)
    assert summary_line(scores) == "WER 12.50% [5 / 40, 1 ins, 2 del, 2 sub] CER 4.10% over 10 utterances"


def test_as_dict_has_every_field():
    scores = score(["a b"], ["a c"])
    assert scores.as_dict() == {"wer": 0.5, "cer": pytest.approx(1 / 3), "substitutions": 1, "deletions": 0,
                                "insertions": 0, "reference_words": 2, "utterances": 1}


def test_format_alignment_pads_columns_and_marks_edits():
    edits = [("=", "the", "the"), ("S", "cat", "hat"), ("D", "sat", ""), ("I", "", "down")]
    assert format_alignment(edits) == [
        "REF: the cat sat *",
        "HYP: the hat *   down",
        "         S   D   I",
    ]


def test_write_report(tmp_path):
    # u1: b -> x, 1 S over 4 words; chars 1 S over 7.
    # u2: nothing recognised, 3 D over 3 words; chars 13 D over 13.
    # u3: identical after normalisation; 0 errors over 2 words and 11 chars.
    # u4: empty reference, "um" is 1 I; chars 2 I.
    # Totals: 1 S + 3 D + 1 I = 5 / 9 words = 55.56 %; chars (1 + 13 + 2) / (7 + 13 + 11) = 16 / 31 = 51.61 %.
    ids = ["u1", "u2", "u3", "u4"]
    references = ["A b c d.", "One two three", "hello world", ""]
    hypotheses = ["a x c d", "", "Hello, world!", "um"]
    out_dir = tmp_path / "decode" / "test"

    scores = write_report(out_dir, ids, references, hypotheses)

    assert scores == Scores(wer=5 / 9, cer=16 / 31, substitutions=1, deletions=3, insertions=1,
                            reference_words=9, utterances=4)
    assert (out_dir / "recogs.txt").read_text() == (
        "u1\tref=a b c d\thyp=a x c d\n"
        "u2\tref=one two three\thyp=\n"
        "u3\tref=hello world\thyp=hello world\n"
        "u4\tref=\thyp=um\n"
    )
    # Most errors first (u2 has 3); u1 and u4 tie at 1 and keep their input order; u3 has none.
    assert (out_dir / "errs.txt").read_text() == (
        "WER 55.56% [5 / 9, 1 ins, 3 del, 1 sub] CER 51.61% over 4 utterances\n"
        "\n"
        "u2: 3 errors in 3 reference words (0 sub, 3 del, 0 ins)\n"
        "REF: one two three\n"
        "HYP: *   *   *\n"
        "     D   D   D\n"
        "\n"
        "u1: 1 error in 4 reference words (1 sub, 0 del, 0 ins)\n"
        "REF: a b c d\n"
        "HYP: a x c d\n"
        "       S\n"
        "\n"
        "u4: 1 error in 0 reference words (0 sub, 0 del, 1 ins)\n"
        "REF: *\n"
        "HYP: um\n"
        "     I\n"
    )
    assert json.loads((out_dir / "wer.json").read_text()) == scores.as_dict()


def test_write_report_with_infinite_wer_writes_readable_json(tmp_path):
    scores = write_report(tmp_path, ["u1"], [""], ["hello"])
    assert math.isinf(json.loads((tmp_path / "wer.json").read_text())["wer"])
    assert math.isinf(scores.wer)


def test_write_report_checks_ids_match(tmp_path):
    with pytest.raises(ValueError, match="1 ids for 2 references"):
        write_report(tmp_path, ["u1"], ["a", "b"], ["a", "b"])
    assert not (tmp_path / "wer.json").exists()

"""Subtitle timestamps, cue grouping and the srt/vtt/jsonl renderings, on hand-built words."""
import json

import pytest

from asr.decoding.ctc import Word
from asr.formats import MAX_CUE_GAP_S, MAX_CUE_S, MAX_CUE_WORDS, cues, record, timestamp, to_jsonl, to_srt, to_vtt


def words(*spans):
    """Words named w0, w1, ... with the given (start_s, end_s)."""
    return [Word(f"w{i}", a, b, 0.9) for i, (a, b) in enumerate(spans)]


@pytest.mark.parametrize("seconds, separator, expected", [
    (0, ",", "00:00:00,000"),
    (3661.5, ",", "01:01:01,500"),
    (3661.5, ".", "01:01:01.500"),
    (12.3456, ",", "00:00:12,346"),
    (59.9996, ",", "00:01:00,000"),  # rounding carries into the minutes
    (0.0004, ".", "00:00:00.000"),
    (100 * 3600 + 0.001, ",", "100:00:00,001"),
])
def test_timestamp(seconds, separator, expected):
    assert timestamp(seconds, separator) == expected


def test_the_cue_limits_are_the_documented_ones():
    assert (MAX_CUE_WORDS, MAX_CUE_S, MAX_CUE_GAP_S) == (10, 4.0, 1.0)


def test_no_words_no_cues():
    assert cues([]) == []


def test_a_cue_holds_at_most_max_words():
    ws = words(*[(0.3 * i, 0.3 * i + 0.2) for i in range(12)])  # 12 words in 3.5 s, gaps 0.1 s
    assert cues(ws) == [(0.0, 2.9, " ".join(f"w{i}" for i in range(10))), (3.0, 3.5, "w10 w11")]


def test_a_cue_lasts_at_most_max_duration():
    ws = words(*[(float(i), i + 0.5) for i in range(6)])  # the 5th word would end 4.5 s after the cue starts
    assert cues(ws) == [(0.0, 3.5, "w0 w1 w2 w3"), (4.0, 5.5, "w4 w5")]


def test_a_cue_ending_exactly_at_max_duration_is_kept_whole():
    assert cues(words((0.0, 1.0), (1.5, 2.5), (3.0, 4.0))) == [(0.0, 4.0, "w0 w1 w2")]


def test_a_pause_over_max_gap_starts_a_new_cue():
    ws = words((0.0, 0.5), (0.6, 1.0), (2.1, 2.5), (3.5, 3.9))  # gaps 0.1, 1.1 (split), 1.0 (not over: kept)
    assert cues(ws) == [(0.0, 1.0, "w0 w1"), (2.1, 3.9, "w2 w3")]


TWO_WORDS = [Word("hello", 0.0, 0.5, 0.9), Word("world", 0.62, 1.25, 0.8)]


def test_srt_of_two_words():
    assert to_srt(TWO_WORDS) == "1\n00:00:00,000 --> 00:00:01,250\nhello world\n"


def test_vtt_of_two_words():
    assert to_vtt(TWO_WORDS) == "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nhello world\n"


def test_srt_and_vtt_number_and_separate_cues():
    ws = [Word("one", 0.0, 0.4, 1.0), Word("two", 2.0, 2.5, 1.0)]
    assert to_srt(ws) == ("1\n00:00:00,000 --> 00:00:00,400\none\n\n"
                          "2\n00:00:02,000 --> 00:00:02,500\ntwo\n")
    assert to_vtt(ws) == ("WEBVTT\n\n00:00:00.000 --> 00:00:00.400\none\n\n"
                          "00:00:02.000 --> 00:00:02.500\ntwo\n")


def test_srt_and_vtt_of_no_words():
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n\n"


def test_an_error_record_has_only_path_and_error():
    assert record("a.wav", error="a.wav: no such file") == {"path": "a.wav", "error": "a.wav: no such file"}


def test_jsonl_is_one_line_and_keeps_non_ascii():
    line = to_jsonl({"path": "café\n.wav", "text": "x"})
    assert "\n" not in line and "café" in line
    assert json.loads(line) == {"path": "café\n.wav", "text": "x"}

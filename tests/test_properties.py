"""Properties that hold for every input, checked with hypothesis: the CTC decoders (against an independent CTC
forward algorithm), the log-mel front end, and a fuzz run of the audio loader on random bytes.

Hand-worked examples of the same functions are in tests/decoding/test_decode.py, tests/audio/test_features.py and
tests/audio/test_audio.py.
"""
import itertools
import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from asr.audio.load import AudioError, duration_s, load_audio
from asr.config import FeatureConfig
from asr.decoding.ctc import beam_search, collapse, forced_align, greedy_decode, prefix_beam_search, word_timings
from asr.decoding.text import BLANK_ID, Vocabulary

VOCAB = Vocabulary()
SPACE, A, B, C = VOCAB.space_id, *VOCAB.encode("abc")
FRAME_S = 0.04
EXACT = {"beam_width": 100_000, "token_prune": -math.inf}  # nothing pruned: the search is exact
DECODER = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- strategies -----------------------------------------------------------------------------------------------

@st.composite
def posteriors(draw, max_frames: int = 8, min_frames: int = 0, unique_best: bool = False) -> np.ndarray:
    """Log posteriors [time, VOCAB.size] over blank, space and two or three letters (every other id has
    probability zero), from logits hypothesis picks: ties, flat frames and near-certain frames included
    (with `unique_best`, each frame's first best logit is raised by 0.01, so that no frame has a tie)."""
    ids = [BLANK_ID, SPACE, A, B, C][:draw(st.integers(3, 5))]
    frames = draw(st.integers(min_frames, max_frames))
    logits = draw(hnp.arrays(np.float64, (frames, len(ids)), elements=st.floats(-12, 12)))
    if unique_best:
        logits[np.arange(frames), logits.argmax(axis=1)] += 0.01
    small = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True) if frames else logits
    out = np.full((frames, VOCAB.size), -np.inf)
    out[:, ids] = small
    return out


def ctc_log_prob(log_probs: np.ndarray, tokens) -> float:
    """log P(tokens | log_probs) by the CTC forward algorithm over the states [blank, t0, blank, t1, ..., blank]."""
    if len(log_probs) == 0:
        return 0.0 if len(tokens) == 0 else -math.inf
    states = np.full(2 * len(tokens) + 1, BLANK_ID)
    states[1::2] = tokens
    can_skip = np.zeros(len(states), bool)  # from two states back: a token after a different token
    can_skip[3::2] = states[3::2] != states[1:-2:2]
    alpha = np.full(len(states), -np.inf)
    alpha[:2] = log_probs[0, states[:2]]
    for frame in log_probs[1:]:
        one_back = np.concatenate(([-np.inf], alpha))[:len(alpha)]
        two_back = np.where(can_skip, np.concatenate(([-np.inf, -np.inf], alpha))[:len(alpha)], -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, one_back), two_back) + frame[states]
    return float(np.logaddexp.reduce(alpha[-2:]))


def assert_words_well_formed(words, text: str, num_frames: int):
    assert [w.word for w in words] == text.split()
    for w in words:
        assert 0.0 <= w.start_s < w.end_s <= num_frames * FRAME_S + 1e-9
        assert 0.0 <= w.confidence <= 1.0
    for before, after in itertools.pairwise(words):
        assert before.end_s <= after.start_s


# --- collapse ---------------------------------------------------------------------------------------------------

@st.composite
def token_sequences(draw, max_len: int = 8) -> list[int]:
    return draw(st.lists(st.integers(1, VOCAB.size - 1), max_size=max_len))


@given(tokens=token_sequences(), data=st.data())
def test_collapse_inverts_any_ctc_path_of_the_tokens(tokens, data):
    # A CTC path: each token held 1..3 frames, blanks (0..2) between, at least one between equal neighbours.
    path = [BLANK_ID] * data.draw(st.integers(0, 2))
    for i, token in enumerate(tokens):
        path += [token] * data.draw(st.integers(1, 3))
        at_least = 1 if i + 1 < len(tokens) and tokens[i + 1] == token else 0
        path += [BLANK_ID] * data.draw(st.integers(at_least, 2))
    assert collapse(path) == tokens


@given(path=st.lists(st.integers(0, 5), max_size=30), where=st.integers(0, 29))
def test_collapse_drops_blanks_and_ignores_held_frames(path, where):
    out = collapse(path)
    assert BLANK_ID not in out and len(out) <= len(path)
    if path:
        i = where % len(path)
        assert collapse(path[:i + 1] + path[i:]) == out  # holding any frame one frame longer changes nothing


# --- greedy -------------------------------------------------------------------------------------------------------

@DECODER
@given(log_probs=posteriors(max_frames=12))
def test_greedy_is_the_collapsed_best_path(log_probs):
    hyp = greedy_decode(log_probs, VOCAB, FRAME_S)
    path = log_probs.argmax(axis=1) if len(log_probs) else np.zeros(0, int)
    assert list(hyp.tokens) == collapse(path)
    assert BLANK_ID not in hyp.tokens
    assert hyp.score == pytest.approx(float(log_probs.max(axis=1).sum()) if len(log_probs) else 0.0, abs=1e-9)
    assert hyp.score <= 1e-9
    assert hyp.text == " ".join(VOCAB.decode(hyp.tokens).split())
    assert_words_well_formed(hyp.words, hyp.text, len(log_probs))


@DECODER
@given(log_probs=posteriors(max_frames=12, min_frames=1, unique_best=True))
def test_greedy_words_are_the_viterbi_timings_of_its_tokens(log_probs):
    # The best path is unique (with ties, another best path may be the Viterbi one: both are right).
    hyp = greedy_decode(log_probs, VOCAB, FRAME_S)
    assert hyp.words == word_timings(log_probs, hyp.tokens, VOCAB, FRAME_S)


# --- beam search ----------------------------------------------------------------------------------------------

@DECODER
@given(log_probs=posteriors(max_frames=6))
def test_an_unpruned_beam_gives_exact_ctc_probabilities_that_sum_to_one(log_probs):
    nbest = prefix_beam_search(log_probs, SPACE, **EXACT)
    for tokens, score in nbest:
        assert BLANK_ID not in tokens
        assert score == pytest.approx(ctc_log_prob(log_probs, tokens), abs=1e-7)
    assert [s for _, s in nbest] == sorted((s for _, s in nbest), reverse=True)
    assert len({tokens for tokens, _ in nbest}) == len(nbest)
    assert np.logaddexp.reduce([s for _, s in nbest]) == pytest.approx(0.0, abs=1e-7)  # every path is counted


@DECODER
@given(log_probs=posteriors(max_frames=6))
def test_the_exact_best_hypothesis_is_at_least_as_likely_as_the_greedy_path(log_probs):
    greedy = greedy_decode(log_probs, VOCAB, FRAME_S)
    best = beam_search(log_probs, VOCAB, FRAME_S, **EXACT)[0]
    assert best.score >= greedy.score - 1e-9
    assert ctc_log_prob(log_probs, greedy.tokens) >= greedy.score - 1e-9  # its text sums more paths than one


@DECODER
@given(log_probs=posteriors(max_frames=10), beam_width=st.integers(1, 4),
       token_prune=st.sampled_from([-math.inf, -12.0, -3.0, -0.5]))
def test_a_pruned_beam_never_overestimates_a_hypothesis(log_probs, beam_width, token_prune):
    # Pruning only drops paths: each score is a lower bound of its text's probability. It is not a bound on the
    # greedy path: a beam of one or two can end below the best single path (hypothesis finds such inputs).
    nbest = prefix_beam_search(log_probs, SPACE, beam_width, token_prune)
    assert 1 <= len(nbest) <= beam_width
    for tokens, score in nbest:
        assert BLANK_ID not in tokens
        assert score <= ctc_log_prob(log_probs, tokens) + 1e-9
    hyps = beam_search(log_probs, VOCAB, FRAME_S, beam_width, token_prune)
    assert [h.tokens for h in hyps] == [tokens for tokens, _ in nbest] or len(log_probs) == 0
    for h in hyps:
        assert_words_well_formed(h.words, h.text, len(log_probs))


@DECODER
@given(log_probs=posteriors(max_frames=6, min_frames=1))
def test_ctc_is_symmetric_in_time(log_probs):
    forward = dict(prefix_beam_search(log_probs, SPACE, **EXACT))
    backward = dict(prefix_beam_search(log_probs[::-1], SPACE, **EXACT))
    assert set(backward) == {tokens[::-1] for tokens in forward}
    for tokens, score in forward.items():
        assert backward[tokens[::-1]] == pytest.approx(score, abs=1e-7)


@DECODER
@given(log_probs=posteriors(max_frames=6, min_frames=1, unique_best=True), data=st.data())
def test_a_constant_added_to_a_frame_shifts_every_score_by_it(log_probs, data):
    # unique_best: with two logits a rounding error apart, adding a constant can make them equal and move the
    # greedy choice (hypothesis found such a tie between the blank and the space)
    shifts = np.array(data.draw(st.lists(st.floats(-20, 20), min_size=len(log_probs), max_size=len(log_probs))))
    shifted = log_probs + shifts[:, None]  # no longer normalised; CTC scores just move by the sum
    greedy, greedy_shifted = greedy_decode(log_probs, VOCAB, FRAME_S), greedy_decode(shifted, VOCAB, FRAME_S)
    assert greedy_shifted.tokens == greedy.tokens
    assert greedy_shifted.score == pytest.approx(greedy.score + shifts.sum(), abs=1e-7)
    exact, exact_shifted = (dict(prefix_beam_search(x, SPACE, **EXACT)) for x in (log_probs, shifted))
    assert set(exact_shifted) == set(exact)
    for tokens, score in exact.items():
        assert exact_shifted[tokens] == pytest.approx(score + shifts.sum(), abs=1e-6)


# --- forced alignment and word timings ------------------------------------------------------------------------

@st.composite
def alignable(draw):
    """(log posteriors [time, vocab] with every probability non-zero, tokens over blank, space, a, b, c)."""
    tokens = draw(st.lists(st.sampled_from([SPACE, A, B, C]), max_size=6))
    frames = draw(st.integers(0, 14))
    logits = draw(hnp.arrays(np.float64, (frames, VOCAB.size), elements=st.floats(-8, 8)))
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True) if frames else logits, tokens


@DECODER
@given(case=alignable())
def test_forced_align_fits_the_tokens_in_order_or_says_they_cannot_fit(case):
    log_probs, tokens = case
    needed = len(tokens) + sum(a == b for a, b in itertools.pairwise(tokens))
    if len(log_probs) < needed:
        with pytest.raises(ValueError, match="frames"):
            forced_align(log_probs, tokens)
        return
    first = forced_align(log_probs, tokens)
    assert len(first) == len(tokens)
    assert np.all(np.diff(first) >= 1) and np.all((first >= 0) & (first < len(log_probs)))
    for i in np.flatnonzero(np.asarray(tokens[1:]) == np.asarray(tokens[:-1], dtype=int)):
        assert first[i + 1] - first[i] >= 2  # a repeated token needs a blank frame in between
    words = word_timings(log_probs, tokens, VOCAB, FRAME_S)
    assert_words_well_formed(words, VOCAB.decode(tokens), len(log_probs))
    starts = [first[i] * FRAME_S for i, t in enumerate(tokens) if t != SPACE and (i == 0 or tokens[i - 1] == SPACE)]
    assert [w.start_s for w in words] == pytest.approx(starts)  # a word starts where its first letter is aligned


# --- the log-mel front end ------------------------------------------------------------------------------------

FEATURES = FeatureConfig()
FRONT_END = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FRONT_END
@given(n=st.integers(0, 4000))
def test_log_mel_has_num_frames_rows(n):
    from asr.audio.features import log_mel, num_frames
    out = log_mel(np.zeros(n, np.float32), FEATURES)
    assert out.shape == (num_frames(n, FEATURES), FEATURES.num_mels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.log(FEATURES.log_floor), rtol=0, atol=1e-6)  # silence: log of the floor


samples_in_range = hnp.arrays(np.float32, st.integers(0, 2400),
                              elements=st.floats(-1, 1, width=32, allow_subnormal=True))


@FRONT_END
@given(samples=samples_in_range, gain=st.sampled_from([1.0, 1e-6, 1e3, 3e4]))
def test_log_mel_is_finite_and_above_the_floor_for_any_finite_samples(samples, gain):
    from asr.audio.features import log_mel
    out = log_mel(samples * np.float32(gain), FEATURES)
    assert np.all(np.isfinite(out))
    assert np.all(out >= np.log(FEATURES.log_floor) - 1e-5)  # power is never negative


@FRONT_END
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(400, 2400), gain=st.floats(1e-2, 1e2))
def test_scaling_the_samples_by_g_scales_the_mel_power_by_g_squared(seed, n, gain):
    from asr.audio.features import log_mel
    samples = np.random.default_rng(seed).uniform(-0.5, 0.5, n).astype(np.float32)
    power = np.exp(log_mel(samples, FEATURES).astype(np.float64)) - FEATURES.log_floor
    scaled = np.exp(log_mel(samples * np.float32(gain), FEATURES).astype(np.float64)) - FEATURES.log_floor
    reliable = (power > 1e-3 * power.max()) & (power * min(gain ** 2, 1) > 10 * FEATURES.log_floor)
    assert reliable.sum() >= len(power)  # the comparison covers real energy, about a bin per frame at least
    np.testing.assert_allclose(scaled[reliable], gain ** 2 * power[reliable], rtol=2e-3)


@FRONT_END
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(400, 2400), hops=st.integers(1, 3))
def test_dropping_whole_hops_from_the_start_drops_whole_frames(seed, n, hops):
    from asr.audio.features import hop_samples, log_mel
    samples = np.random.default_rng(seed).normal(0, 0.1, n).astype(np.float32)
    full = log_mel(samples, FEATURES)
    later = log_mel(samples[hops * hop_samples(FEATURES):], FEATURES)
    np.testing.assert_allclose(later, full[hops:], rtol=0, atol=1e-4)


@FRONT_END
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 2400))
def test_a_batch_gives_each_clip_its_own_features(seed, n):
    from asr.training.features import log_mel
    batch = np.random.default_rng(seed).normal(0, 0.1, (3, n)).astype(np.float32)
    together = log_mel(batch, FEATURES).numpy()
    for clip, features in zip(batch, together):
        np.testing.assert_allclose(features, log_mel(clip, FEATURES).numpy(), rtol=0, atol=1e-5)


# --- the audio loader on random bytes -------------------------------------------------------------------------

def riff_header(format_tag: int, channels: int, rate_hz: int, bits: int, data_bytes: int) -> bytes:
    """A 44-byte WAV header with the given (possibly absurd) fields."""
    block_align = channels * max(bits, 8) // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate_hz, (rate_hz * block_align) & 0xFFFFFFFF,
                      block_align & 0xFFFF, bits)
    riff_bytes = (36 + data_bytes) & 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", riff_bytes) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_bytes))


headers = st.one_of(
    st.just(b""),
    st.sampled_from([b"RIFF\x24\x08\x00\x00WAVE", b"RIFF\xff\xff\xff\xffWAVEfmt ", b"OggS\x00\x02", b"fLaC",
                     b"ID3\x03\x00", b"FORM\x00\x00\x00\x00AIFF", b"RIFF"]),
    st.builds(riff_header, format_tag=st.sampled_from([0, 1, 3, 6, 7, 0xFFFE, 0x55]),
              channels=st.integers(0, 9),
              rate_hz=st.sampled_from([0, 1, 7, 8000, 16000, 44100, 192000, 2 ** 31]),
              bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]), data_bytes=st.integers(0, 2 ** 32 - 1)),
)


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory(prefix="asr-fuzz-") as folder:
        yield Path(folder)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=headers, body=st.binary(max_size=1200), suffix=st.sampled_from([".wav", ".ogg", ".flac", ".mp3", ""]))
def test_the_loader_gives_finite_mono_float32_or_a_one_line_audio_error(fuzz_dir, capfd, header, body, suffix):
    path = fuzz_dir / f"fuzz{suffix}"
    path.write_bytes(header + body)
    capfd.readouterr()
    try:
        samples = load_audio(path)
    except AudioError as error:  # any other exception type fails the test
        message = str(error)
        assert message.startswith(f"{path}: ") and len(message) > len(f"{path}: ")
        assert "\n" not in message and "\r" not in message
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert np.all(np.isfinite(samples)) and np.all(np.abs(samples) <= 1.0)
    try:
        seconds = duration_s(path)
    except AudioError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
    else:
        assert seconds >= 0 and math.isfinite(seconds)
    assert capfd.readouterr() == ("", "")  # the decoders' own notes ("Trying to resync...") stay hidden

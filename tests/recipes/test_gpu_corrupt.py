"""recipes/mini_librispeech/gpu/corrupt.py, the GPU machine's corrupted copies: the room bank survives its file,
copies are drawn from the seed, the clip's place and the copy's number alone, and babble never takes the
clip's own speaker (NumPy and SciPy only, as on the machine without PyTorch here)."""
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

GPU = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "gpu"
sys.path.insert(0, str(GPU))
import corrupt  # noqa: E402

RNG = np.random.default_rng(0)
SPEECH = (signal.lfilter([1.0], [1.0, -0.9], RNG.standard_normal(24000)) * 0.05).astype(np.float32)


def test_the_room_bank_reads_back_what_was_written(tmp_path):
    path = tmp_path / corrupt.ROOMS_FILE
    assert corrupt.write_rooms(path, 4, seed=3) == path.stat().st_size
    rooms = corrupt.read_rooms(path)
    made = corrupt.training_rooms(4, seed=3)
    assert [len(r) for r in rooms] == [len(r) for r in made]
    for got, want in zip(rooms, made):
        assert np.allclose(got, want, atol=1e-3 * np.abs(want).max())  # float16
    np.savez(path, samples=np.zeros(3, np.float16), offsets=np.array([0, 3]), rate_hz=8000)
    with pytest.raises(ValueError, match="8000 Hz"):
        corrupt.read_rooms(path)


def test_copies_come_from_the_seed_the_clip_and_the_copy_number():
    rooms = corrupt.training_rooms(3, seed=1)
    pool = [("84", SPEECH[::-1].copy()), ("174", np.roll(SPEECH, 5000)), ("251", SPEECH * 0.5),
            ("422", np.roll(SPEECH, 9000))]
    first = corrupt.corrupted_copies(SPEECH, "84-121123-0001", 5, 3, 7, pool, rooms)
    again = corrupt.corrupted_copies(SPEECH, "84-121123-0001", 5, 3, 7, pool, rooms)
    other_clip = corrupt.corrupted_copies(SPEECH, "84-121123-0001", 6, 3, 7, pool, rooms)
    assert len(first) == 3 and all(c.dtype == np.float32 and c.shape == SPEECH.shape for c in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other_clip))
    assert not np.array_equal(first[0], first[1]) and all(np.abs(c).max() <= 1.0 for c in first)


def test_babble_takes_other_speakers_only(monkeypatch):
    offered = []

    def spy(speech, others, rng, kinds, rooms):
        offered.append(others)
        return speech, "babble"
    monkeypatch.setattr(corrupt, "corrupt_randomly", spy)
    mine, theirs = SPEECH * 0.1, SPEECH * 0.2
    pool = [("84", mine)] * 5 + [("174", theirs)] * 3
    corrupt.corrupted_copies(SPEECH, "84-121123-0001", 0, 2, 7, pool, [])
    assert len(offered) == 2 and all(len(o) == 3 and all(x is theirs for x in o) for o in offered)
    corrupt.corrupted_copies(SPEECH, "84-121123-0001", 0, 1, 7, pool[:5], [])
    assert offered[-1] == []  # nobody else: corrupt_randomly makes noise instead of babble

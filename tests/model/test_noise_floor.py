"""asr/model/noise_floor.py: a model directory's noise floor file is written, read back, and checked as it loads."""
import numpy as np
import pytest

from asr.model import noise_floor
from asr.models import CheckpointError


def test_the_noise_floor_file_is_checked_as_it_loads(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path}.*noise_floor.json: missing"):
        noise_floor.load(tmp_path, -24.0, 3)
    noise_floor.save(tmp_path / noise_floor.NOISE_FILE, np.array([1e-5, 2e-6, 3e-7]), -24.0, 3, "three clips")
    np.testing.assert_allclose(noise_floor.load(tmp_path, -24.0, 3), [1e-5, 2e-6, 3e-7])
    with pytest.raises(CheckpointError, match="level -24.0 dBFS"):
        noise_floor.load(tmp_path, None, 3)  # measured at another input level
    with pytest.raises(CheckpointError, match="must be 80 non-negative numbers"):
        noise_floor.load(tmp_path, -24.0, 80)
    (tmp_path / noise_floor.NOISE_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not a usable noise floor"):
        noise_floor.load(tmp_path, -24.0, 3)

"""recipes/mini_librispeech/input_level.py prints the active level of a manifest's clips."""
import json
import re

import numpy as np
import soundfile
from conftest import REPO_ROOT, load_script

input_level = load_script(REPO_ROOT / "recipes" / "mini_librispeech" / "input_level.py", "input_level")


def test_prints_the_median_level_of_the_clips(tmp_path, capsys):
    t = np.arange(16000) / 16000
    rows = []
    for i, amplitude in enumerate((0.01, 0.1, 0.5)):  # -43, -23, -9 dBFS
        soundfile.write(tmp_path / f"{i}.wav", (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
        rows.append({"id": str(i), "audio": f"{i}.wav", "text": "a", "duration_s": 1.0})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert input_level.main([str(tmp_path / "m.jsonl"), "--every", "1"]) == 0
    median = float(re.search(r"median (-?[\d.]+) dBFS", capsys.readouterr().out).group(1))
    assert abs(median - 20 * np.log10(0.1 / np.sqrt(2))) < 0.1

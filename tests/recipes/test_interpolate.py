"""recipes/mini_librispeech/interpolate.py: a network between a base and its fine-tuned copy, weight by weight."""
import json
import shutil

import numpy as np
from conftest import REPO_ROOT, load_script

from asr import load_model
from asr.models import resolve

interpolate = load_script(REPO_ROOT / "recipes" / "mini_librispeech" / "interpolate.py", "interpolate")


def _tuned_copy(base, out, shift: float):
    """A copy of model directory `base` with every weight but the normalisation moved by `shift`."""
    shutil.copytree(base, out)
    with np.load(base / "model.npz") as data:
        arrays = {k: data[k] for k in data.files}
    for key in arrays:
        if key not in ("names", "w000", "w001"):
            arrays[key] = (arrays[key].astype(np.float32) + shift).astype(arrays[key].dtype)
    np.savez(out / "model.npz", **arrays)
    return out


def test_the_blend_is_the_weighted_mean_and_decodes(tmp_path, samples_dir):
    base = resolve("digits")
    tuned = _tuned_copy(base, tmp_path / "tuned", 0.25)
    for alpha in (0.0, 0.5, 1.0):
        out = tmp_path / f"blend-{alpha}"
        assert interpolate.main([str(base), str(tuned), "--alpha", str(alpha), "--out", str(out)]) == 0
        with np.load(base / "model.npz") as a, np.load(tuned / "model.npz") as b, np.load(out / "model.npz") as c:
            assert list(c["names"]) == list(a["names"])
            for key in a.files:
                if key != "names":
                    assert c[key].dtype == a[key].dtype
                    expected = (1 - alpha) * a[key].astype(np.float64) + alpha * b[key].astype(np.float64)
                    np.testing.assert_allclose(c[key].astype(np.float64), expected, rtol=2e-3, atol=2e-3)
        assert (out / "config.json").read_text() == (base / "config.json").read_text()
    with np.load(tmp_path / "blend-0.0" / "model.npz") as blended, np.load(base / "model.npz") as original:
        np.testing.assert_array_equal(blended["w005"], original["w005"])
    assert load_model(str(tmp_path / "blend-0.0")).transcribe(samples_dir / "fsdd-0_jackson_0.wav").text == "zero"


def test_other_networks_are_refused_in_one_line(tmp_path, capsys):
    base = resolve("digits")
    other = tmp_path / "other"
    shutil.copytree(base, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["model"]["units"] += 1
    (other / "config.json").write_text(json.dumps(cfg))
    assert interpolate.main([str(base), str(other), "--alpha", "0.5", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model differ" in err
    assert not (tmp_path / "x").exists()
    assert interpolate.main([str(base), str(tmp_path / "gone"), "--alpha", "0.5", "--out", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err == f"interpolate: {tmp_path / 'gone'}: no config.json (not a model directory)\n"

"""Pieces of the training step, on hand-built tensors."""
import numpy as np
import tensorflow as tf

from asr.train import pad_with_silence


def test_pad_with_silence_keeps_each_clip_whole_and_surrounds_it_with_quiet_frames():
    tf.random.set_seed(3)
    features = tf.constant(np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3) + 100)
    lengths = tf.constant([4, 2])
    silence = tf.constant([-20.0, -21.0, -22.0])
    seen_leads = set()
    for _ in range(20):
        out, new_lengths = pad_with_silence(features, lengths, silence, max_frames=2)
        out, new_lengths = out.numpy(), new_lengths.numpy()
        assert out.shape == (2, 4 + 2 * 2, 3)
        for b, n in enumerate([4, 2]):
            assert n <= new_lengths[b] <= n + 4
            loud = np.flatnonzero(out[b, :, 0] > 50)  # the clip's own frames are >= 100, quiet ones near -20
            assert len(loud) == n and np.all(np.diff(loud) == 1)  # whole and in order
            lead = loud[0]
            seen_leads.add(int(lead))
            np.testing.assert_array_equal(out[b, lead:lead + n], features.numpy()[b, :n])
            quiet = np.r_[0:lead, lead + n:new_lengths[b]]
            assert np.all(np.abs(out[b, quiet] - silence.numpy()) < 4)  # silence plus noise of stddev 0.5
            assert np.all(out[b, new_lengths[b]:] == 0)  # beyond the new length: padding
    assert seen_leads == {0, 1, 2}

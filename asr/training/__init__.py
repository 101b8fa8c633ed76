"""Training and export: everything that needs TensorFlow (pip install 'asr[train]').

The Keras acoustic model (keras_model), the tf.signal twin of the front end (features), the data pipeline
(data, batching), the training loop (train), tf.distribute strategies (distribute), model directories and
training-state checkpoints (checkpoint), SavedModel and TFLite export (export), the Keras reference that the
NumPy networks are checked against (reference), and plots. Transcription never imports this package: its
models run in NumPy (asr.model.network) from the directories written here.
"""
from __future__ import annotations

EXTRA = "train"  # pip install 'asr[train]'


class MissingTensorFlow(RuntimeError):
    """TensorFlow is not installed; the message says which extra installs it."""


def require_tensorflow(what: str) -> None:
    """Import TensorFlow and Keras, or raise MissingTensorFlow saying that `what` needs them and how to install."""
    try:
        import keras  # noqa: F401
        import tensorflow
    except ImportError:
        raise MissingTensorFlow(f"{what} needs TensorFlow, which is not installed: pip install 'asr[{EXTRA}]'") \
            from None
    tensorflow.config.list_physical_devices()  # the devices are found now, so that their messages come now too

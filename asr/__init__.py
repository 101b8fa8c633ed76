"""asr: a hackable RNN-CTC speech recognizer. Transcription runs in NumPy; training and export (asr.training)
in TensorFlow.

Importing the package has no side effects and imports no TensorFlow; nor does `load_model` or anything it returns.
"""
from __future__ import annotations

__version__ = "0.1.0"


def load_model(name_or_dir: str | None = None, **options):
    """A shipped model by name, a model directory, or a .tflite export; options as for
    asr.transcribe.load_model. A .tflite file runs with LiteRT (the `export` extra)."""
    if name_or_dir and str(name_or_dir).endswith(".tflite"):
        from asr.recognizer import ExportedTranscriber
        return ExportedTranscriber(name_or_dir, **options)
    from asr.transcribe import load_model as _load
    return _load(name_or_dir, **options)


__all__ = ["load_model", "__version__"]

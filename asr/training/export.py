"""Export a model directory as a TensorFlow SavedModel or a TFLite file that takes a waveform.

The log-mel front end (asr.audio.features.log_mel) is inside the exported graph, so a runtime needs no feature code.
Both formats have the same signature, "serving_default", one utterance per call:

    input   waveform    float32 [samples]         mono, in [-1, 1], at the model's sample rate
    output  log_probs   float32 [frames, tokens]  natural-log posteriors (log-softmax), blank first (asr.decoding.text)
            num_frames  int32   []                = frames: ceil(log-mel frames / subsampling)

log_probs are what asr.decoding.ctc takes: greedy_decode(log_probs, vocab, frame_s), beam_search(...); they equal
asr.training.reference.KerasReference's of the same model (exactly for a SavedModel; within 1e-4 for a
float TFLite file; Transcriber.log_probs, which runs the networks in NumPy, within 1e-4 too). A waveform
shorter than one analysis window (25 ms) gives 0 frames.

Every export describes itself in a JSON document (sample rate, frame duration, token symbols, source model,
quantization, output units): `assets.extra/asr.json` in a SavedModel directory, a metadata entry named "asr" in
a TFLite file. A phone model (asr/decoding/phones.py) carries its pronunciations too, as pronunciations.txt.gz (in
assets.extra/, or a metadata entry of that name), so a runtime can write words. `load_exported(path)` reads either
format and returns an ExportedModel (asr.model.exported, which a runtime imports without TensorFlow).

One utterance per call, not a padded batch with lengths: TF 2.21's TFLite converter lowers the Keras LSTM's
while loop only when the batch size is static ("'tf.TensorListReserve' op requires element_shape to be static
during TF Lite transformation pass"), so a [batch, samples] TFLite model would need a batch size fixed at export.

TFLite quantization (`quantize`):
    none     float32 weights and activations.
    dynamic  dynamic-range: recurrent and dense weights int8, activations float32 (each int8 matrix product
             quantizes its input on the fly).
    int8     full integer: weights and activations int8, activation ranges calibrated on `calibration`
             waveforms, which must be like the model's training audio (the digits model, trained on 8 kHz
             audio, divides the empty bands above 4 kHz by a standard deviation of 0.014: calibrated on all the
             clips of samples/, LibriSpeech ones included, it gets ranges hundreds of times too wide and no digit
             right). Input and outputs stay float32; ops without an int8 kernel (RFFT) run in float; so does the
             final log-softmax (its int8 kernel clips log-probabilities at -16).
In both quantized modes the front end stays float32: quantizing the mel power spectrum to 8 bits (what both
modes would do to the input of the mel filterbank's matrix product) rounds every quiet band to zero, changes
log-mel values by up to 11 on samples/ and turns the digits model's "zero" into "zio" (dynamic) and "seven"
into "sio" (int8). `dynamic` puts the float32 filterbank back after conversion (`_float_filterbank`); `int8`
leaves the front-end ops out of quantization (the denylist of TFLite's QuantizationDebugger).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from asr.decoding.phones import PRONUNCIATIONS_FILE, PhoneVocabulary
from asr.decoding.text import Vocabulary
from asr.model.exported import (  # noqa: F401
    FORMATS,
    METADATA_NAME,
    METADATA_VERSION,
    QUANTIZE,
    SIGNATURE,
    ExportedModel,
    ExportError,
    load_exported,
    vocabulary,
)

FRONT_END_SCOPE = "log_mel"  # name scope of the front-end ops in the exported graph


# Export ---------------------------------------------------------------------------------------------------------

def serving_function(model, features_cfg):
    """The exported computation as a tf.function: waveform [samples] -> {log_probs, num_frames}."""
    import tensorflow as tf

    from asr.training.features import log_mel

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    def serve(waveform):
        with tf.name_scope(FRONT_END_SCOPE):
            features = log_mel(waveform, features_cfg)[None]
        logits, lengths = model(features, tf.shape(features)[1:2], training=False)
        return {"log_probs": tf.nn.log_softmax(logits[0]), "num_frames": lengths[0]}
    return serve


def metadata(source: str, cfg, vocab: Vocabulary, fmt: str, quantize: str) -> dict:
    """The JSON document every export carries: what a runtime needs to feed the model and decode its output."""
    meta = {"asr_export": METADATA_VERSION, "format": fmt, "quantize": quantize, "source_model": source,
            "sample_rate_hz": cfg.features.sample_rate_hz,
            "frame_s": cfg.features.hop_ms / 1000 * cfg.model.subsampling,
            "units": cfg.model.tokens, "tokens": vocab.symbols(), "signature": SIGNATURE,
            "inputs": {"waveform": "float32 [samples], mono in [-1, 1] at sample_rate_hz"},
            "outputs": {"log_probs": "float32 [frames, tokens], log-softmax, blank first",
                        "num_frames": "int32 [], = frames"}}
    if isinstance(vocab, PhoneVocabulary):
        meta["pronunciations"] = (f"{PRONUNCIATIONS_FILE}: gzipped `word PHONE PHONE ...` lines, "
                                  + ("in assets.extra/" if fmt == "savedmodel" else "a metadata entry of this name"))
    return meta


def export_savedmodel(model, cfg, out, meta: dict, pronunciations: bytes | None = None) -> Path:
    """Write a SavedModel directory (replacing `out`) with the serving signature and assets.extra/asr.json (and
    a phone model's pronunciations, assets.extra/PRONUNCIATIONS_FILE)."""
    import tensorflow as tf

    out = Path(out)
    module = tf.Module()
    module.model_weights = list(model.weights)  # tracked, so saved as variables (the Keras model itself is not)
    module.serve = serving_function(model, cfg.features)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
    (tmp / "assets.extra").mkdir(exist_ok=True)
    (tmp / "assets.extra" / f"{METADATA_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    if pronunciations is not None:
        (tmp / "assets.extra" / PRONUNCIATIONS_FILE).write_bytes(pronunciations)
    _replace(tmp, out)
    return out


def export_tflite(model, cfg, out, meta: dict, quantize: str = "none", calibration=(),
                  pronunciations: bytes | None = None) -> Path:
    """Write a TFLite file with the serving signature and the "asr" metadata entry (and a phone model's
    pronunciations, a metadata entry named PRONUNCIATIONS_FILE).

    calibration: waveforms (float32 [samples] at the model rate) for `quantize="int8"`'s activation ranges.
    """
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise ExportError(f"unknown quantization {quantize!r}; expected one of {', '.join(QUANTIZE)}")
    if quantize == "int8" and not len(calibration):
        raise ExportError("int8 quantization needs calibration audio")
    holder, function = _frozen_serving_function(model, cfg)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], holder)
    if quantize == "none":
        flatbuffer = converter.convert()
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flatbuffer = _float_filterbank(converter.convert(), cfg.features)
    else:
        flatbuffer = _full_integer(converter, calibration)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    entries = {METADATA_NAME: json.dumps(meta).encode()}
    if pronunciations is not None:
        entries[PRONUNCIATIONS_FILE] = pronunciations
    tmp.write_bytes(_with_metadata(flatbuffer, entries))
    tmp.replace(out)
    return out


def export(name_or_dir, fmt: str, out, quantize: str = "none", calibration_files=()) -> Path:
    """Export a shipped model (by name) or a model directory; see the module docstring for the formats.

    calibration_files: audio files for `quantize="int8"` (read at the model's rate).
    Raises ExportError, FileNotFoundError (no such model), checkpoint.CheckpointError, audio.AudioError.
    """
    from asr import models
    from asr.audio.load import load_audio
    from asr.training import checkpoint
    from asr.training.keras_model import KerasEnsemble

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "savedmodel" and quantize != "none":
        raise ExportError("quantization is for tflite; a SavedModel is exported in float32")
    model_dir = models.resolve(name_or_dir)
    cfg, vocab, model = checkpoint.load_keras(model_dir)  # an ensemble's members are averaged inside the graph
    meta = metadata(str(name_or_dir or models.DEFAULT_MODEL), cfg, vocab, fmt, quantize)
    if isinstance(model, KerasEnsemble):
        meta["ensemble"] = {"networks": len(model.networks), "weights": model.shares}
    pronunciations = (model_dir / PRONUNCIATIONS_FILE).read_bytes() if isinstance(vocab, PhoneVocabulary) else None
    if fmt == "savedmodel":
        return export_savedmodel(model, cfg, out, meta, pronunciations)
    calibration = [load_audio(f, cfg.features.sample_rate_hz) for f in calibration_files]
    return export_tflite(model, cfg, out, meta, quantize, calibration, pronunciations)


def _replace(tmp: Path, final: Path) -> None:
    if final.is_dir():
        shutil.rmtree(final)
    elif final.exists():
        final.unlink()
    tmp.replace(final)


def _frozen_serving_function(model, cfg):
    """(module, concrete function) with the weights as constants and the signature's names kept.

    The converter cannot take the SavedModel itself: variables read inside the LSTM's while loop are not frozen
    and come out as READ_VARIABLE ops with no values. Freezing first (as the converter does for a bare concrete
    function) keeps the weights; the wrapper restores the input and output names that freezing drops.
    """
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants

    function = serving_function(model, cfg.features).get_concrete_function()
    frozen = convert_to_constants.convert_variables_to_constants_v2(function)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    def serve(waveform):
        log_probs, num_frames = frozen(waveform)
        return {"log_probs": log_probs, "num_frames": num_frames}
    holder = tf.Module()
    holder.serve = serve
    return holder, serve.get_concrete_function()


def _float_filterbank(flatbuffer: bytes, features_cfg) -> bytes:
    """Give the dynamic-range model its float32 mel filterbank back (the one int8 weight of the front end).

    With int8 weights, TFLite's fully-connected kernel quantizes its input (the power spectrum) to 8 bits per
    frame; with float32 weights it computes in float, as the float model does.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from asr.audio.features import mel_filterbank

    weights = mel_filterbank(features_cfg).T  # [mels, bins]: a fully-connected layer's [outputs, inputs]
    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    found = [t for g in model.subgraphs for t in g.tensors
             if t.type == schema.TensorType.INT8 and t.name.decode().startswith(f"{FRONT_END_SCOPE}/")
             and tuple(t.shape) == weights.shape]
    if len(found) != 1:
        raise ExportError(f"dynamic quantization: expected one int8 mel filterbank, found {len(found)}")
    tensor = found[0]
    quantized = np.frombuffer(bytes(model.buffers[tensor.buffer].data), np.int8).reshape(weights.shape)
    scale = np.asarray(tensor.quantization.scale, np.float32)[:, None]
    if not np.allclose(quantized * scale, weights, atol=float(scale.max())):
        raise ExportError("dynamic quantization: the int8 tensor in the front end is not the mel filterbank")
    tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
    model.buffers[tensor.buffer].data = np.frombuffer(weights.astype("<f4").tobytes(), np.uint8)
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _full_integer(converter, calibration) -> bytes:
    """Full-integer quantization calibrated on `calibration`; the front end and the log-softmax stay float32."""
    import warnings

    import tensorflow as tf

    def dataset():
        return ([np.asarray(w, np.float32)] for w in calibration)
    front_end = _front_end_tensor_names(converter.convert())
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=front_end,
                                                            denylisted_ops=["LOG_SOFTMAX"])
    with warnings.catch_warnings():  # the debugger checks its own model with the deprecated tf.lite.Interpreter
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=dataset,
                                                             debug_options=options)
    return debugger.get_nondebug_quantized_model()


def _front_end_tensor_names(flatbuffer: bytes) -> list[str]:
    """Output names of the ops under FRONT_END_SCOPE in a converted float model (they name ops to denylist)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    names = [g.tensors[i].name.decode() for g in model.subgraphs for op in g.operators for i in op.outputs]
    return [n for n in names if n.startswith(f"{FRONT_END_SCOPE}/")]


def _with_metadata(flatbuffer: bytes, entries: dict[str, bytes]) -> bytes:
    """The TFLite model with more metadata entries: name -> data."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    return flatbuffer_utils.convert_object_to_bytearray(model)

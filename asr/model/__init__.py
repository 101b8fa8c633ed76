"""Acoustic models in NumPy: reading a model directory (directory), the network's forward pass (network), ensembles of
networks (ensemble), token priors (priors), the training clips' noise floor (noise_floor), a unidirectional network run chunk by chunk (stream) and
SavedModel/TFLite exports (exported). Features in, log posteriors out; no TensorFlow.
"""

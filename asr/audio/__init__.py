"""Audio in: loading any file or stream as float32 mono at the model rate (load), the active speech level and the
gain to a model's input level (level), clipped peaks restored (declip), the log-mel front end in NumPy
(features), steady background noise subtracted from its mel power (noise), energy voice-activity detection
(vad) and cutting long audio at pauses (segment). The first stage of the data flow: nothing here imports another asr
folder.
"""

// Runs on the audio thread: posts each block of microphone samples (mono Float32, the AudioContext's rate)
// to the page, which converts them to int16 and sends them to the server.
class PcmCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const mono = new Float32Array(channels[0].length);
      for (const channel of channels) {
        for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
      }
      this.port.postMessage(mono, [mono.buffer]);
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);

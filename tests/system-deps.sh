#!/usr/bin/env bash
# System packages for the live-audio tests: PortAudio (sounddevice), PulseAudio (a virtual microphone) and
# Chromium (the browser test of `asr serve`). Installs them as root on a Debian-like machine; elsewhere it says
# what it skipped and exits 0 (the tests that need them skip).
set -euo pipefail
PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils chromium)
if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: not root, skipped installing ${PACKAGES[*]}"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "system-deps: no apt-get, skipped installing ${PACKAGES[*]}"
    exit 0
fi
if dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
    echo "system-deps: ${PACKAGES[*]} already installed"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; then
    echo "system-deps: installed ${PACKAGES[*]}"
else
    echo "system-deps: could not install ${PACKAGES[*]}; the tests that need them skip"
fi

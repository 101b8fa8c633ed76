"""Live transcription: the streaming API (streaming: chunks in, partial and final events out), the terminal demo `asr
stream` (terminal), the WebSocket server `asr serve` (server) and its page (web/).
"""

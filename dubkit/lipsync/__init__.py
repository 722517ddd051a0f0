"""Lip-sync's own know-how, shared by the lip-sync engines and QA: face analysis of the picture (`faces.py`,
mouth tracks), shots, face tracks and the active speaker (`tracks.py`), the audio-visual sync measure (`sync.py`),
the mouth warp of still faces (`warp.py`) and the Wav2Lip-layout network (`wav2lip_net.py`). The engines that
re-animate a mouth live in `dubkit/backends/lipsync_*.py`.
"""

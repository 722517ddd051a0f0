"""Who speaks each line, and with which voice.

`voices.py` reads the voice profiles and chooses among them; `cast.py` keeps a series' cast file (speaker → voice
per language, with voiceprints); `speakers.py` clusters voice embeddings into speakers and matches them to known
ones; `references.py` cuts an actor's own lines into references for voice-cloning engines; `audition.py` writes a
sample of each voice (`dubkit voices --audition`).
"""

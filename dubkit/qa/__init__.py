"""Quality checks of a dub: what is heard (`heard.py`, re-recognition and word error in `wer.py`), sync before and
after (through `dubkit.lipsync`), loudness (`loudness.py`), the report's data (`report.py`, `report.schema.json`),
review clips (`samples.py`), plots, and the self-contained HTML page (`html.py`); `review.py` ties them together.
"""

"""Quality checks of a dub: what is heard (`heard.py`, re-recognition and word error in `wer.py`), sync before and
after (through `dubkit.lipsync`), loudness (`loudness.py`), the report's data (`report.py`, `report.schema.json`),
review clips (`samples.py`), plots, and the self-contained HTML page (`html.py`: a typed view of the report in
`view.py`, the plots' geometry in `charts.py`, Jinja templates in `templates/` rendered by `pages.py`, which the
batch report shares); `review.py` ties them together.
"""

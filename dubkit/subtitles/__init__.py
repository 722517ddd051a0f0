"""Timed text under a subtitler's rules, per language (reading speed, line length, gaps, durations).

`layout.py` turns the dubbed lines into cues and checks every rule (the report QA reads); `linebreak.py` breaks a
cue's text into balanced lines; `spotting.py` times cues as a subtitler would (lead-in, run-on, borrowing from
neighbours); `condense.py` shortens a line that cannot be read in its time (fillers, hesitations, repeats).
"""

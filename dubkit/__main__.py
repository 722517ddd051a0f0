"""`python -m dubkit` runs the command line."""

from dubkit.cli import main

main()

"""Timings and quality figures, run by hand (see each script's docstring); not part of the bot."""

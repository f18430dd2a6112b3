"""The pure domain: grading and its policy, search, picks, schedules and catalog types.

Nothing here imports aiogram, SQL, or the application's other packages.
"""

"""The command lines behind ``scripts/train.py`` and ``scripts/play.py``: argument checks, env creation, one-line errors."""

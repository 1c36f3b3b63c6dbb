#!/usr/bin/env python
"""Train TruDi (or PPO / REPPO) on an Isaac Lab task.

    python scripts/train.py --task Isaac-Humanoid-v0 --agent trudi

See ``python scripts/train.py --help`` and :mod:`trudi_isaac.cli.train`.
"""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: many threads on few cores slow rsl-rl ~20x

from trudi_isaac.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Evaluate a checkpoint and export the policy (TorchScript, ONNX).

    python scripts/play.py --task Isaac-Humanoid-v0 --agent trudi --episodes 32

See ``python scripts/play.py --help`` and :mod:`trudi_isaac.cli.play`.
"""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: many threads on few cores slow rsl-rl ~20x

from trudi_isaac.cli.play import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""Packaging of trudi-isaac: the ``trudi_isaac`` package with its agent configs and task registration.

The tree maps onto one import package:

    source/trudi_isaac/  ->  trudi_isaac          (algorithms/, modules/, storage/, runners/, cli/, utils/, assets/)
    agents/              ->  trudi_isaac.agents   (TruDi agent @configclass configs)
    tasks/               ->  trudi_isaac.tasks    (registration into Isaac Lab tasks; importing it registers)

Isaac Lab itself is required as a range, so that installing into a user's own Isaac Lab never replaces it.
"""

import os
import tomllib

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(ROOT, "extension.toml"), "rb") as f:
    EXTENSION = tomllib.load(f)["package"]

setup(
    name="trudi_isaac",
    version=EXTENSION["version"],
    description=EXTENSION["description"],
    author=EXTENSION["author"],
    license=EXTENSION["license"],
    python_requires=">=3.12,<3.13",
    packages=[
        "trudi_isaac",
        *(f"trudi_isaac.{sub}" for sub in find_packages("source/trudi_isaac")),
        "trudi_isaac.agents",
        "trudi_isaac.tasks",
    ],
    package_dir={"trudi_isaac": "source/trudi_isaac", "trudi_isaac.agents": "agents", "trudi_isaac.tasks": "tasks"},
    install_requires=["isaaclab>=3.0,<4"],
    extras_require={"test": ["pytest>=8", "hypothesis>=6", "onnx>=1.16", "onnxruntime>=1.18", "tensorboard>=2.16"]},
    zip_safe=False,
)

"""Offline stand-ins for the robot assets Isaac Lab downloads from NVIDIA's server.

A package of its own, apart from :mod:`trudi_isaac.tasks`, as ``isaaclab_assets`` is apart from
``isaaclab_tasks``: the asset root must be set *before* Isaac Lab's tasks are imported, and importing
:mod:`trudi_isaac.tasks` imports them.
"""

"""TruDi in existing Isaac Lab tasks: importing this package registers the agents, as ``import isaaclab_tasks``
registers the tasks.

    import isaaclab_tasks  # noqa: F401
    import trudi_isaac.tasks  # noqa: F401   (every task with an rsl-rl config: trudi_ and reppo_cfg_entry_point)

The import imports ``isaaclab_tasks`` itself and is idempotent. Tasks registered later (a user's own
extension imported afterwards) get the entry points from another call of
:func:`~trudi_isaac.tasks.registration.register_trudi_agents`; Isaac Lab's own trainer and player take
:func:`~trudi_isaac.tasks.registration.install_into_isaaclab` as ``--external_callback`` (the agents, plus safe
checkpoints and the CPU update's thread policy). Offline asset stand-ins live in :mod:`trudi_isaac.assets`: set them up before
this import, since Isaac Lab reads its asset root when its tasks are imported.
"""

from trudi_isaac.tasks.registration import register_trudi_agents

register_trudi_agents()

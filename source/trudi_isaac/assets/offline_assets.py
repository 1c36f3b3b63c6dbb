"""Offline asset root: local stand-ins for the NVIDIA asset-server files the classic tasks load.

Isaac Lab 3 fetches robot and ground-plane USD files from NVIDIA's asset server at run time.
Where that server cannot be reached, :func:`configure_assets` builds a local folder that mirrors
the server's paths, filled with the example assets shipped inside the ``newton`` wheel, and
points Isaac Lab at it through ``ISAACSIM_ASSET_ROOT``.

Timing matters: Isaac Lab reads ``ISAACSIM_ASSET_ROOT`` once, when ``isaaclab.utils.assets`` is
first imported (``import isaaclab_tasks``, ``isaaclab_assets`` or ``isaaclab.sim`` all import it),
and bakes the root into module constants and config defaults. Call :func:`configure_assets`
before any of those imports, or export the variable in the shell::

    export ISAACSIM_ASSET_ROOT=$(python -m trudi_isaac.assets.offline_assets)

The stand-ins are not NVIDIA's models: results on them compare with each other, not with
published numbers.
"""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ASSET_ROOT_ENV_VAR = "ISAACSIM_ASSET_ROOT"
"""Environment variable Isaac Lab (and Isaac Sim) read the asset root from."""

MODE_ENV_VAR = "TRUDI_ASSETS"
"""Environment variable choosing the asset mode: ``auto``, ``offline`` or ``online``."""

MODES = ("auto", "offline", "online")
"""Accepted asset modes."""

STOCK_ASSET_ROOT = "https://omniverse-content-production.s3-us-west-2.amazonaws.com/Assets/Isaac/6.2"
"""NVIDIA's asset root as Isaac Lab 3.0.0 configures it; used when its kit file cannot be read."""

PROBE_PORT = 443
"""TCP port probed on the asset server (HTTPS)."""

PROBE_TIMEOUT_S = 2.0
"""Time limit of each step (DNS lookup, TCP connect) of the reachability probe [s]."""

LAYOUT_VERSION = 2
"""Version of the layout built here; bump it to rebuild every cached root (2: the humanoid's collision groups
removed, see :func:`_build_humanoid`)."""

COMPLETE_MARKER = "trudi-offline-assets.json"
"""File written last into a finished root; its presence marks the root as complete."""

GROUND_PLANE_PRIM = "GroundPlane"
"""Default prim of the hand-made ground plane."""

GROUND_PLANE_VISUAL_SIZE_M = 100.0
"""Visual width and length of the hand-made ground plane [m]; its collision plane is infinite."""

HUMANOID_JOINT_RENAMES = {
    "abdomen_x": "pelvis",
    "left_knee": "left_shin",
    "right_knee": "right_shin",
    "left_elbow": "left_lower_arm",
    "right_elbow": "right_lower_arm",
}
"""Joint renames giving newton's humanoid the 21 joint names of Isaac Lab's humanoid."""

COLLISION_GROUP_TYPE = "PhysicsCollisionGroup"
"""USD type of the collision-group prims removed from the humanoid (see :func:`_build_humanoid`)."""

CARTPOLE_DEFAULT_PRIM = "cartpole"
"""Prim holding the cartpole articulation in newton's cartpole example."""

OFFLINE_TASKS: tuple[str, ...] = (
    "Isaac-Cartpole",
    "Isaac-Cartpole-Direct",
    "Isaac-Ant",
    "Isaac-Ant-Direct",
    "Isaac-Humanoid",
    "Isaac-Humanoid-Direct",
)
"""Tasks verified to create and step on the offline asset root (16 envs, CPU, Newton backend)."""


@dataclass(frozen=True)
class StandIn:
    """One mirrored file: where it lives below the asset root and how it is made."""

    path: str
    """Path below the asset root, exactly as on NVIDIA's asset server."""
    build: Callable[[Path], None]
    """Writes the stand-in to the given file."""


def _newton_example_asset(name: str) -> Path:
    """Path of an example asset shipped inside the installed ``newton`` wheel."""
    import newton.examples  # noqa: PLC0415  (heavy import, only needed when building)

    return Path(newton.examples.__file__).parent / "assets" / name


def _open_layer(source: Path):
    """Open a USD layer for editing without touching the source file."""
    from pxr import Sdf  # noqa: PLC0415

    layer = Sdf.Layer.OpenAsAnonymous(str(source))
    if layer is None:
        raise FileNotFoundError(f"Unable to open USD layer {source}")
    return layer


def _export(layer, target: Path) -> None:
    """Write a layer to ``target``, in the file format its extension names."""
    if not layer.Export(str(target)):
        raise RuntimeError(f"Unable to write USD layer {target}")


def _build_cartpole(target: Path) -> None:
    """Newton's single-pendulum cartpole with the articulation prim as default prim."""
    layer = _open_layer(_newton_example_asset("cartpole_single_pendulum.usda"))
    layer.defaultPrim = CARTPOLE_DEFAULT_PRIM
    _export(layer, target)


def _build_ant(target: Path) -> None:
    """Newton's ant, unchanged."""
    _export(_open_layer(_newton_example_asset("ant.usda")), target)


def _build_humanoid(target: Path) -> None:
    """Newton's humanoid with its joints renamed to Isaac Lab's 21 humanoid joint names and without its collision
    groups.

    ``humanoid.usda`` puts each collision shape in a ``PhysicsCollisionGroup`` of its own. Under PhysX's meaning
    of groups (a group skips only the groups it lists in ``filteredGroups``) that filters nothing: every shape
    meets the ground and the other bodies. Newton's USD importer instead gives each group its own positive
    collision-group id, and a shape with a positive id collides only with shapes of the same id (or negative
    ones): the ground plane's shape has id 1, the humanoid's shapes ids 1 to 19, so only the first group's
    shape (the head) met the ground, and the feet fell through it. Without the groups, every shape takes the
    default id and meets the ground, as under PhysX; self-collision stays as Isaac Lab's humanoid config asks
    (``self_collision_enabled=True``; parent-child pairs are filtered by the joints).
    """
    from pxr import Sdf  # noqa: PLC0415

    layer = _open_layer(_newton_example_asset("humanoid.usda"))
    joints: dict[str, Sdf.Path] = {}
    collision_groups: list[Sdf.Path] = []

    def collect(path: Sdf.Path) -> None:
        spec = layer.GetPrimAtPath(path) if path.IsPrimPath() else None
        if spec is None:
            return
        if spec.name in HUMANOID_JOINT_RENAMES and spec.typeName.endswith("Joint"):
            joints[spec.name] = path
        elif spec.typeName == COLLISION_GROUP_TYPE:
            collision_groups.append(path)

    layer.Traverse(Sdf.Path.absoluteRootPath, collect)
    if not collision_groups:
        raise RuntimeError("newton's humanoid.usda has no collision groups any more: review _build_humanoid")
    missing = set(HUMANOID_JOINT_RENAMES) - set(joints)
    if missing:
        raise RuntimeError(f"newton's humanoid.usda lacks the joints {sorted(missing)}")
    edit = Sdf.BatchNamespaceEdit()
    for name, path in joints.items():
        edit.Add(Sdf.NamespaceEdit.Rename(path, HUMANOID_JOINT_RENAMES[name]))
    for path in collision_groups:
        edit.Add(Sdf.NamespaceEdit.Remove(path))
    if not layer.Apply(edit):
        raise RuntimeError("Unable to rename the humanoid joints and remove its collision groups")
    _export(layer, target)


def _build_ground_plane(target: Path) -> None:
    """A Z-up infinite collision plane under an Xform, as Isaac Lab's ground-plane spawner expects."""
    from pxr import Sdf, Usd, UsdGeom, UsdPhysics  # noqa: PLC0415

    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, Sdf.Path(f"/{GROUND_PLANE_PRIM}"))
    stage.SetDefaultPrim(root.GetPrim())
    plane = UsdGeom.Plane.Define(stage, root.GetPath().AppendChild("CollisionPlane"))
    plane.CreateAxisAttr(UsdGeom.Tokens.z)
    plane.CreateWidthAttr(GROUND_PLANE_VISUAL_SIZE_M)
    plane.CreateLengthAttr(GROUND_PLANE_VISUAL_SIZE_M)
    UsdPhysics.CollisionAPI.Apply(plane.GetPrim())
    _export(stage.GetRootLayer(), target)


STAND_INS: tuple[StandIn, ...] = (
    StandIn("Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd", _build_cartpole),
    StandIn("Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd", _build_ant),
    StandIn("Isaac/Robots/IsaacSim/Humanoid/humanoid_instanceable.usd", _build_humanoid),
    StandIn(
        "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda",
        _build_ground_plane,
    ),
)
"""Files mirrored, at the paths of ``isaaclab_assets.robots.{cartpole,ant,humanoid}`` and of
``isaaclab.sim.GroundPlaneCfg`` (``ISAAC_NUCLEUS_DIR`` is ``<root>/Isaac``,
``ISAACLAB_NUCLEUS_DIR`` is ``<root>/Isaac/IsaacLab``)."""


def stock_asset_root() -> str:
    """NVIDIA's asset root URL, read from Isaac Lab's kit file as Isaac Lab itself does.

    Reads the file directly: importing ``isaaclab.utils.assets`` would freeze the asset root.
    """
    try:
        from isaaclab.paths import ISAACLAB_ROOT  # noqa: PLC0415  (light: no asset-root side effect)

        text = (ISAACLAB_ROOT / "apps" / "isaaclab.python.kit").read_text()
    except (ImportError, OSError, RuntimeError):
        return STOCK_ASSET_ROOT
    match = re.search(r'^\s*persistent\.isaac\.asset_root\.default\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else STOCK_ASSET_ROOT


def _version_key() -> str:
    """Names a root by the asset release it mirrors, the newton wheel it copies and this layout."""
    release = stock_asset_root().rstrip("/").rsplit("/", 1)[-1]
    return f"isaac-{release}-newton-{importlib.metadata.version('newton')}-v{LAYOUT_VERSION}"


def default_asset_root() -> Path:
    """Default location of the offline asset root."""
    return Path.home() / ".cache" / "trudi-isaac" / "assets" / _version_key()


def is_complete(root: Path) -> bool:
    """Whether ``root`` is a finished offline asset root."""
    return (root / COMPLETE_MARKER).is_file() and all((root / s.path).is_file() for s in STAND_INS)


def build_offline_assets(root: Path | None = None) -> Path:
    """Build the offline asset root once; later calls return at once.

    The root is built in a sibling temporary folder and renamed into place, so a root that
    exists is complete, and concurrent builders cannot leave a half-written one.

    Args:
        root: Where to build; defaults to :func:`default_asset_root`.

    Returns:
        The asset root, the value for ``ISAACSIM_ASSET_ROOT``.
    """
    root = (root or default_asset_root()).expanduser().resolve()
    if is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for stand_in in STAND_INS:
            target = staging / stand_in.path
            target.parent.mkdir(parents=True, exist_ok=True)
            stand_in.build(target)
        manifest = {"version_key": _version_key(), "files": [s.path for s in STAND_INS]}
        (staging / COMPLETE_MARKER).write_text(json.dumps(manifest, indent=2))
        if root.exists():  # an incomplete leftover from an older, non-atomic writer
            shutil.rmtree(root)
        try:
            staging.rename(root)
        except OSError:
            if not is_complete(root):  # someone else finished first, or a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def server_reachable(url: str | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Fast check that the asset server answers: a DNS lookup and a TCP connect, each time-limited."""
    host = urlparse(url or stock_asset_root()).hostname
    if not host:
        return False
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:  # getaddrinfo has no timeout of its own
        addresses = executor.submit(socket.getaddrinfo, host, PROBE_PORT, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = addresses.result(timeout=timeout_s)[0]
    except (concurrent.futures.TimeoutError, OSError, IndexError):
        return False
    finally:
        executor.shutdown(wait=False)
    try:
        with socket.socket(family, kind, proto) as connection:
            connection.settimeout(timeout_s)
            connection.connect(address)
    except OSError:
        return False
    return True


def _isaaclab_asset_root_frozen_elsewhere(root: str) -> bool:
    """Whether Isaac Lab already read a different asset root (it reads it once, at import)."""
    assets = sys.modules.get("isaaclab.utils.assets")
    return assets is not None and getattr(assets, "NUCLEUS_ASSET_ROOT_DIR", None) != root.rstrip("/\\")


def configure_assets(mode: str | None = None) -> str | None:
    """Choose where Isaac Lab loads assets from; call before Isaac Lab's asset module is imported.

    A root the user set in ``ISAACSIM_ASSET_ROOT`` always wins. Otherwise ``mode`` (or, when not
    given, the ``TRUDI_ASSETS`` environment variable, default ``auto``) decides: ``online`` leaves
    Isaac Lab on NVIDIA's server, ``offline`` builds the local root and sets
    ``ISAACSIM_ASSET_ROOT`` to it, and ``auto`` goes offline when the server is unreachable.

    Args:
        mode: ``auto``, ``offline`` or ``online``; ``None`` reads ``TRUDI_ASSETS``.

    Returns:
        The asset root in use, or ``None`` when assets come from NVIDIA's server.

    Raises:
        ValueError: On an unknown mode.
        RuntimeError: When going offline after Isaac Lab already fixed another asset root.
    """
    mode = (mode or os.environ.get(MODE_ENV_VAR) or "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"Unknown asset mode {mode!r}; expected one of {MODES}")
    user_root = os.environ.get(ASSET_ROOT_ENV_VAR)
    if user_root:
        print(f"[trudi] assets: {user_root} (from {ASSET_ROOT_ENV_VAR})", file=sys.stderr)
        return user_root
    if mode == "online" or (mode == "auto" and server_reachable()):
        print(f"[trudi] assets: {stock_asset_root()} (NVIDIA asset server)", file=sys.stderr)
        return None
    root = str(build_offline_assets())
    if _isaaclab_asset_root_frozen_elsewhere(root):
        raise RuntimeError(
            f"isaaclab.utils.assets was imported before the offline asset root was configured, so Isaac Lab"
            f" keeps its old root. Call configure_assets() before importing isaaclab_tasks / isaaclab_assets /"
            f" isaaclab.sim, or export {ASSET_ROOT_ENV_VAR}={root}"
        )
    os.environ[ASSET_ROOT_ENV_VAR] = root
    print(f"[trudi] assets: {root} (offline stand-ins, mode {mode})", file=sys.stderr)
    return root


if __name__ == "__main__":  # prints the root for `export ISAACSIM_ASSET_ROOT=$(python -m ...)`
    print(build_offline_assets())

"""Replace an object's attribute for the length of a block."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def patched_attribute(obj: object, name: str, replacement: Callable) -> Iterator[None]:
    """Set an instance attribute for the block, then restore what was there (or remove it, uncovering the class's)."""
    had_own = name in vars(obj)
    previous = vars(obj).get(name)
    setattr(obj, name, replacement)
    try:
        yield
    finally:
        if had_own:
            setattr(obj, name, previous)
        else:
            delattr(obj, name)

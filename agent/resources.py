"""Finding the letter templates and playbooks, installed or in a checkout.

In a wheel they ship inside the package as ``agent/_resources/<name>`` (see the
force-include in pyproject.toml); in an editable install or a checkout they are the
top-level folders of the repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

ResourceName = Literal["templates", "specialty_playbooks"]


def resource_dir(name: ResourceName) -> Path:
    """The directory holding ``templates`` or ``specialty_playbooks``."""
    packaged = Path(str(resources.files("agent"))) / "_resources" / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[1] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"cannot find the {name} folder: the package is installed "
                            "without its resources")

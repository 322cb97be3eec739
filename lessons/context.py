"""What every layer may need at run time, made once per app by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lessons.passwords import PasswordHasher
from lessons.settings import Settings
from lessons.store import Store

if TYPE_CHECKING:
    from lessons.layers import Layers


@dataclass(frozen=True)
class Service:
    settings: Settings
    store: Store
    hasher: PasswordHasher
    layers: Layers

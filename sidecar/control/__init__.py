"""livefoley.sidecar.control: the control server (ROUTER + PUB) the sidecar runtime embeds.

Re-exports only; see README.md in this folder for the design argument.
"""

from .dispatch import Dispatcher
from .handler import ControlHandler
from .server import ControlServer

__all__ = ["ControlServer", "ControlHandler", "Dispatcher"]

"""Communication: message kinds, channel models, batched flows."""

from v2x_sim.comms.channels import FibreLink, Pc5Channel, UuChannel, WanPath
from v2x_sim.comms.messages import Hop, MessageKind

__all__ = ["FibreLink", "Hop", "MessageKind", "Pc5Channel", "UuChannel", "WanPath"]

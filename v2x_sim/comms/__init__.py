"""Communication: message kinds, channel models, batched flows."""

from v2x_sim.comms.channels import FibreLink, Pc5Channel, UuChannel, WanPath

__all__ = ["FibreLink", "Pc5Channel", "UuChannel", "WanPath"]

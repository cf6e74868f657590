"""Importers: SUMO, OpenStreetMap and GMNS networks as the project's network files.

Each importer is a pure function from a source file (or folder) to an
`ImportedNetwork` (tables); `write_import` writes them as ``nodes.csv``, ``links.csv``,
``connections.csv``, ``signals.csv``, ``ids.csv``, ``import.json`` and a stub
``scenario.yaml``. Optional libraries (pyproj, pyosmium) are imported only when a
source needs them, with one clear line naming the extra to install.
"""

from v2x_sim.road.importers.common import ImportedLink, ImportedNetwork, write_import
from v2x_sim.road.importers.gmns import import_gmns
from v2x_sim.road.importers.osm import import_osm
from v2x_sim.road.importers.projection import MissingExtraError
from v2x_sim.road.importers.sumo import import_sumo

__all__ = ["ImportedLink", "ImportedNetwork", "MissingExtraError", "import_gmns",
           "import_osm", "import_sumo", "write_import"]

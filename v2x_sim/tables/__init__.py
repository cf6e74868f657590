"""Result tables as files and frames: CSV or Parquet, pandas or polars, GeoJSON.

A table is a dict of column name -> numpy array (as in `v2x_sim.RunResult`). This
package knows how each column is typed (`v2x_sim.tables.schema`), writes and reads
tables in either file format, converts them to DataFrames and turns network, device
and edge tables into GeoJSON. It depends on nothing but numpy (and, when asked, the
optional pyarrow, pandas, polars and pyproj), so both the runs that write results and
the report that reads them use it.
"""

from v2x_sim.tables.formats import (
    Table,
    TableFormat,
    find_table,
    parquet_available,
    read_table,
    table_csv_text,
    write_table,
)
from v2x_sim.tables.frames import to_pandas, to_polars
from v2x_sim.tables.geojson import (
    GeoReference,
    devices_geojson,
    edge_regions_geojson,
    network_geojson,
    worst_bin,
)
from v2x_sim.tables.schema import RUN_TABLES, SCHEMA_VERSION, edge_node_id

__all__ = [
    "RUN_TABLES",
    "SCHEMA_VERSION",
    "GeoReference",
    "Table",
    "TableFormat",
    "devices_geojson",
    "edge_node_id",
    "edge_regions_geojson",
    "find_table",
    "network_geojson",
    "parquet_available",
    "read_table",
    "table_csv_text",
    "to_pandas",
    "to_polars",
    "worst_bin",
    "write_table",
]

"""Reports from results on disk: figures (tables in, Figure out) and one HTML page.

Works from the files of a results folder only, never from simulation objects::

    from v2x_sim.report import build_report
    build_report("results/quickstart")   # -> results/quickstart/report.html

The figure functions live in `v2x_sim.report.figures_traffic`,
`v2x_sim.report.figures_comms` and `v2x_sim.report.figures_study`.
"""

from v2x_sim.report.html import build_report
from v2x_sim.report.load import RunData, StudyData, folder_kind, load_run, load_study

__all__ = ["RunData", "StudyData", "build_report", "folder_kind", "load_run", "load_study"]

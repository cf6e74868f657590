"""Running scenarios and keeping their results on disk."""

from v2x_sim.experiment.run import RESULT_FILES, run, write_results

__all__ = ["RESULT_FILES", "run", "write_results"]

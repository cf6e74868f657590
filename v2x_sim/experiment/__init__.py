"""Running scenarios and keeping their results on disk."""

from v2x_sim.experiment.compare import compare, replicate, study_table
from v2x_sim.experiment.run import RESULT_FILES, run, write_results
from v2x_sim.experiment.scenarios import compare_scenarios
from v2x_sim.experiment.study import Arm, StudyResult, run_study

__all__ = ["RESULT_FILES", "Arm", "StudyResult", "compare", "compare_scenarios", "replicate",
           "run", "run_study", "study_table", "write_results"]

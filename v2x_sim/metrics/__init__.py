"""Recorders and summaries; knows numbers and names, never domain objects."""

from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.metrics.records import ColumnLog, Event, EventLog
from v2x_sim.metrics.summary import percentile_or_nan, student_t_interval

__all__ = [
    "ColumnLog",
    "Event",
    "EventLog",
    "LatencyBook",
    "LogHistogram",
    "percentile_or_nan",
    "student_t_interval",
]

"""Traffic: demand, vehicle classes, fleet and movement."""

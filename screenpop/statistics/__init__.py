"""Statistics: the KPI dictionary, reports over the stored facts, charts and exports (issue 12)."""

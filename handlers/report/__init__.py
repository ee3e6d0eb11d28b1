"""The "report a detention" journey: the report conversation and its jobs."""

"""Services of the "report a detention" journey: drafts, filing, limits, the purge."""

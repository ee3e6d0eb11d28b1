"""Services of the "review reports" journey: the workflow, access, exports, statistics and
the volunteer-chat notifier."""

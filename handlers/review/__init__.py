"""The "review reports" journey: the queue and report cards, typed answers, the relay between
volunteers and reporters, statistics and exports, the team, and the review jobs."""

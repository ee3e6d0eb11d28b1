"""The "ask a question" journey: typed and inline questions, rights, venues."""

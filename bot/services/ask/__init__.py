"""Services of the "ask a question" journey: feedback votes and unanswered questions."""

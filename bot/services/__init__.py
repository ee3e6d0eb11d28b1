"""Services own the transactions; handlers call them."""

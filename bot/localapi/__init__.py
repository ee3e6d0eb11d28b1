"""A local Bot API server for tests, benchmarks and the console (no token, no network), and the
terminal console that chats with the real bot through it."""

"""Handlers shared by every journey: start, help, language, my data, the fallbacks, the
middleware that loads the user, and error reporting."""

"""The Telegram layer: the callback context and the Services it carries, the HTTP client and
rate limits, per-chat update ordering, acknowledgements, persistence, HTML and metrics."""

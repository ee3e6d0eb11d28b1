"""The core: configuration, database and models, crypto, i18n, places, typed text, logging,
migrations and backups. It imports nothing else of Jiyn and nothing of python-telegram-bot."""

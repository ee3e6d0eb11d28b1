"""Authenticated encryption of personal data at rest (Fernet: AES-128-CBC + HMAC-SHA256), and
keyed hashes for looking rows up without storing who they belong to in the clear."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DecryptionError(Exception):
    """Stored data cannot be decrypted with any configured key."""


class Cipher:
    """Encrypts with the first key, decrypts with any of them (so keys can be rotated)."""

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        # The lookup hash must not reveal the Telegram id even to someone holding the database,
        # so it is keyed. New rows use the newest key; lookups accept every key's hash until
        # `jiyn keys rotate` has rewritten the old ones.
        self._hash_keys = [hashlib.sha256(b"jiyn-lookup:" + key).digest() for key in keys]

    def encrypt(self, text: str | None) -> bytes | None:
        """Ciphertext of a string (None stays None)."""
        if text is None:
            return None
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes | None) -> str | None:
        """The string inside a ciphertext (None stays None)."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise DecryptionError("no configured key decrypts this value") from None

    def encrypt_undated(self, text: str) -> bytes:
        """Ciphertext without the moment it was made: a Fernet token carries its creation time
        in the clear, which for some rows (the users table) would say when a person first
        wrote. The timestamp is set to 0; decryption never checks it, rotation keeps it."""
        return self._fernet.encrypt_at_time(text.encode("utf-8"), 0)

    def decrypt_id(self, token: bytes | None) -> int | None:
        """A Telegram id stored with encrypt (None stays None)."""
        text = self.decrypt(token)
        return int(text) if text is not None else None

    def encrypt_json(self, value: Any) -> bytes:
        """Ciphertext of a JSON-serialisable value."""
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8"))

    def decrypt_json(self, token: bytes) -> Any:
        """The value inside a JSON ciphertext."""
        return json.loads(self.decrypt(token) or "null")

    def rotate(self, token: bytes | None) -> bytes | None:
        """Re-encrypt a ciphertext under the first key."""
        if token is None:
            return None
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise DecryptionError("no configured key decrypts this value") from None

    def lookup_hash(self, value: int | str) -> str:
        """A keyed, irreversible hash for finding a person's rows (under the newest key)."""
        return self.lookup_hashes(value)[0]

    def lookup_hashes(self, value: int | str) -> list[str]:
        """The hash under every configured key, newest first: what a lookup must accept."""
        data = str(value).encode()
        return [hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._hash_keys]

"""Secrets the platform must use again later (a pull's connection URL, a webhook's signing secret), sealed with a
key derived from the platform's secret key and a purpose, so one purpose's sealed values open no other's."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from smartcity.config import get_settings


class SealBroken(Exception):
    """A sealed value that this platform's secret key cannot open (the key changed, or the value was altered)."""


def _fernet(purpose: str) -> Fernet:
    key = hashlib.sha256(f"smartcity-{purpose}:{get_settings().secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str, *, purpose: str) -> str:
    """`text` encrypted and authenticated with the key of `purpose`."""
    return _fernet(purpose).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(sealed: str, *, purpose: str) -> str:
    """The text back; SealBroken if the key of `purpose` cannot open it."""
    try:
        return _fernet(purpose).decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SealBroken(purpose) from None

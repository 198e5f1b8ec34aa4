"""CSRF tokens for console forms: an HMAC of the browser's session (or pre-login) cookie."""

from __future__ import annotations

import hashlib
import hmac


def csrf_token(secret: str, binding: str) -> str:
    """The token a form rendered for the cookie value `binding` must send back."""
    return hmac.new(secret.encode(), f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, binding: str | None, presented: str | None) -> bool:
    """Whether `presented` is the token for `binding` (constant-time)."""
    if not binding or not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, binding), presented)

"""The alternative behind the same seam: the token functions with PyJWT instead of python-jose.

The service calls two seams for tokens, ``issue_token`` and ``decode_token``
(``lessons/tokens.py``). These are the same two functions written with PyJWT: the same claims,
the same HS256 signature, so a token from either library verifies with the other; lesson 02's
checks and attacks pass unchanged against them. Their signatures stay parallel to the
reference's, so that either pair plugs into the service.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

import jwt as pyjwt  # PyJWT, imported under another name: python-jose also offers a `jwt`
from jose import JWTError

from lessons import tokens
from lessons.settings import Settings


def issue_token_pyjwt(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    """``lessons.tokens.issue_token`` with PyJWT."""
    now = int(time.time())
    claims = {
        "sub": subject, "iat": now, "nbf": now, "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer, "aud": settings.token_audience,
        "jti": secrets.token_urlsafe(16), "scope": " ".join(sorted(scopes)),
    }
    return pyjwt.encode(claims, settings.secret_key, algorithm=tokens.ALGORITHM)


def decode_token_pyjwt(settings: Settings, token: str) -> dict[str, Any]:
    """``lessons.tokens.decode_token`` with PyJWT. PyJWT makes ``algorithms`` mandatory and
    checks ``exp``, ``nbf``, ``aud`` and ``iss`` when present or asked for;
    ``options={"require": [...]}`` makes a token without any of the registered claims invalid,
    as the reference does (python-jose's own option names, ``require_exp`` and so on, mean
    nothing to PyJWT). The seam's contract is python-jose's ``JWTError``, so PyJWT's errors are
    re-raised as that."""
    try:
        return dict(pyjwt.decode(
            token, settings.secret_key, algorithms=[tokens.ALGORITHM],
            audience=settings.token_audience, issuer=settings.token_issuer,
            options={"require": list(tokens.REQUIRED_CLAIMS)},
        ))
    except pyjwt.PyJWTError as error:
        raise JWTError(str(error)) from error

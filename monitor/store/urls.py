"""Store URLs as they may be shown: every secret-bearing part replaced by ``***``.

Used wherever a store URL reaches a person or a log line (CLI messages, logs, the
dashboard). Plain string work, no URL parser: a password with an unescaped ``@``
or a malformed URL must not leak either, and SQLAlchemy's parser splits
``user:p@ss@host`` on the first ``@`` (host ``ss@host``).
"""

from __future__ import annotations

import re

__all__ = ["redact_url", "redact_text", "url_secrets"]

HIDDEN = "***"
# Query parameters whose value is a secret: password, passwd, sslpassword, pwd,
# secret, token, access_token, key, sslkey, api_key, ...
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&;#?]*(?:password|passwd|pwd|secret|token|key)[^=&;#?]*=)([^&;#]*)"
)


def redact_url(url: str) -> str:
    """``url`` with the password and every secret query parameter hidden.

    The password is everything between the user's ``:`` and the *last* ``@`` (so
    an unescaped ``@`` in it stays hidden); hiding too much is preferred to
    showing a secret.

    >>> redact_url("postgresql+psycopg://u:s3cret@db:5432/dw")
    'postgresql+psycopg://u:***@db:5432/dw'
    >>> redact_url("postgresql+psycopg://u:p@ss@db/dw")
    'postgresql+psycopg://u:***@db/dw'
    >>> redact_url("postgresql+psycopg://u@db/dw?password=s3cret")
    'postgresql+psycopg://u@db/dw?password=***'
    >>> redact_url("postgresql://u@/dw?host=db&sslpassword=a&sslkey=/k.pem&application_name=x")
    'postgresql://u@/dw?host=db&sslpassword=***&sslkey=***&application_name=x'
    >>> redact_url("sqlite:///var/lib/driftwatch.db")
    'sqlite:///var/lib/driftwatch.db'
    >>> redact_url("::not a url?token=abc")
    '::not a url?token=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at >= 0:
        userinfo, host_part = rest[:at], rest[at + 1:]
        user, colon, _password = userinfo.partition(":")
        userinfo = f"{user}:{HIDDEN}" if colon else _hide_params(userinfo)
        rest = f"{userinfo}@{_hide_params(host_part)}"
    else:
        rest = _hide_params(rest)
    return f"{scheme}{sep}{rest}"


def url_secrets(url: str) -> list[str]:
    """The secret values in ``url`` (as written and percent-decoded), longest first.

    >>> url_secrets("postgresql://u:p%40ss@db/x?token=t1")
    ['p%40ss', 'p@ss', 't1']
    """
    from urllib.parse import unquote

    found: set[str] = set()
    rest = url.partition("://")[2] or url
    at = rest.rfind("@")
    if at >= 0:
        _user, colon, password = rest[:at].partition(":")
        if colon and password:
            found.add(password)
    for match in _SECRET_PARAM.finditer(url):
        if match.group(2):
            found.add(match.group(2))
    found |= {unquote(value) for value in found}
    return sorted((value for value in found if value), key=lambda value: (-len(value), value))


def redact_text(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``url`` hidden.

    >>> redact_text("auth failed for password=hunter2", "postgresql://u@db/x?password=hunter2")
    'auth failed for password=***'
    """
    for secret in url_secrets(url):
        text = text.replace(secret, HIDDEN)
    return text


def _hide_params(text: str) -> str:
    return _SECRET_PARAM.sub(lambda match: match.group(1) + (HIDDEN if match.group(2) else ""), text)

"""Pure input rules shared by several requests (passwords, user names, names, tags)."""

from __future__ import annotations

import re
import unicodedata

from controlplane.domain.arguments import ArgumentError, Reason

PASSWORD_MIN, PASSWORD_MAX = 8, 128
_USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_$-]*")  # fullmatch: "$" would admit "admin\n"
# Control, format (bidi overrides, zero-width), private-use, surrogate, unassigned characters,
# and line/paragraph separators: invisible or misleading in a name.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
USER_NAME_MAX = {"postgresql": 63, "mysql": 32}
NAME_MAX = 255
TAG_MAX, TAGS_MAX = 128, 50


def password_errors(password: str, argument: str = "password") -> list[ArgumentError]:
    problems = []
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problems.append(f"be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    if not any(c.isdigit() for c in password):
        problems.append("contain a digit")
    if not any(c.isupper() for c in password):
        problems.append("contain an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("contain a lower-case letter")
    if not any(not c.isalnum() and not c.isspace() for c in password):
        problems.append("contain a special character")
    if not problems:
        return []
    return [ArgumentError(argument, Reason.CONSTRAINT, "password must " + ", ".join(problems))]


def user_name_errors(name: str, family: str, argument: str = "user_name") -> list[ArgumentError]:
    limit = USER_NAME_MAX.get(family, 32)

    def err(message: str) -> list[ArgumentError]:
        return [ArgumentError(argument, Reason.CONSTRAINT, message)]

    if not 1 <= len(name) <= limit:
        return err(f"user name must be 1 to {limit} characters long")
    if not _USER_NAME.fullmatch(name):
        return err("user name must start with a letter and contain only letters, digits, _, $ or -")
    if name.lower().startswith("_rdb"):
        return err("user names starting with _rdb are reserved")
    if family == "postgresql" and name.lower().startswith("pg_"):
        return err("user names starting with pg_ are reserved by PostgreSQL")
    return []


def name_errors(name: str, argument: str = "name") -> list[ArgumentError]:
    if not name.strip():
        return [ArgumentError(argument, Reason.REQUIRED, "name must not be empty")]
    if len(name) > NAME_MAX:
        return [ArgumentError(argument, Reason.CONSTRAINT, f"name is longer than {NAME_MAX}")]
    if has_hidden_characters(name):
        return [
            ArgumentError(
                argument, Reason.FORMAT, "name must not contain control or invisible characters"
            )
        ]
    return []


def has_hidden_characters(text: str) -> bool:
    return any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in text)


def tags_errors(tags: list[str], argument: str = "tags") -> list[ArgumentError]:
    if len(tags) > TAGS_MAX:
        return [ArgumentError(argument, Reason.CONSTRAINT, f"at most {TAGS_MAX} tags")]
    errors = []
    for i, tag in enumerate(tags):
        if not tag.strip() or len(tag) > TAG_MAX or has_hidden_characters(tag):
            errors.append(
                ArgumentError(
                    f"{argument}.{i}",
                    Reason.CONSTRAINT,
                    f"a tag is 1 to {TAG_MAX} printable characters",
                )
            )
    return errors

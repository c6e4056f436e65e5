"""SQL the PostgreSQL agent runs, composed with psycopg.sql (never string-formatted identifiers)."""

from __future__ import annotations

from psycopg import sql


def role_exists() -> sql.Composed:
    return sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s").format()


def create_admin_role(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("CREATE ROLE {} WITH LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def set_role_password(user: str, verifier: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
        sql.Identifier(user), sql.Literal(verifier)
    )


def database_exists() -> sql.Composed:
    return sql.SQL("SELECT 1 FROM pg_database WHERE datname = %s").format()


def create_database(name: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))


def grant_database(database: str, user: str) -> sql.Composed:
    return sql.SQL("GRANT ALL PRIVILEGES ON DATABASE {} TO {}").format(
        sql.Identifier(database), sql.Identifier(user)
    )


def grant_public_schema(user: str) -> sql.Composed:
    return sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(user))


def grant_monitoring(user: str) -> sql.Composed:
    return sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(user))

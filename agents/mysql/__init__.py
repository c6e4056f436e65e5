"""MySQL-family agent (MariaDB today, MySQL 8 as a flavor)."""

"""Storage: SQL on SQLite and PostgreSQL; knows only the domain.

Storage: the schema, its migrations, and the repositories that read and write it on
SQLite and PostgreSQL. Knows the domain; knows nothing of HTTP or wire formats."""

"""PostgreSQL access: connections, versioned migrations and the bulk merge writer."""

from marketpipe.db.connect import connect, database_dsn, with_database
from marketpipe.db.merge import MergeError, MergeResult, merge_rows, table_columns
from marketpipe.db.migrator import MigrationError, available_migrations, migrate

__all__ = [
    "MergeError",
    "MergeResult",
    "MigrationError",
    "available_migrations",
    "connect",
    "database_dsn",
    "merge_rows",
    "migrate",
    "table_columns",
    "with_database",
]

"""Django's MySQL backend with UUIDs stored as CHAR(32) on every server, on a database made as README says.

MariaDB 10.7+ has a native UUID type that Django uses by default; MySQL 8 and MariaDB
10.6 do not. Storing CHAR(32) everywhere gives one schema (database_schema.sql) that
runs on all of them, and data that moves between them.

A new connection to a database whose default character set or collation is not README's stops the
process with one line (charset.py), until one connection of the process found it right.
"""

import time

from django.db.backends.mysql import base, features

from tool_ocr.db_backends.mysql.charset import check_database_defaults

# After a failed connection attempt, further attempts by the same thread within this many seconds fail at
# once: a request (or a worker step) that already waited DATABASE_CONNECT_TIMEOUT for a dead or frozen
# database must not wait again for each of the other queries it would make (core/dependencies.py).
FAIL_FAST_SECONDS = 1.0


class DatabaseFeatures(features.DatabaseFeatures):
    has_native_uuid_field = False


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    _connect_failed_at = None

    def get_new_connection(self, conn_params):
        failed = self._connect_failed_at
        if failed is not None and time.monotonic() - failed < FAIL_FAST_SECONDS:
            raise base.Database.OperationalError(
                2003, "The database did not answer a moment ago; not trying again yet")
        try:
            connection = super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            self._connect_failed_at = time.monotonic()
            raise
        self._connect_failed_at = None
        try:
            check_database_defaults(connection, (conn_params.get("host"), conn_params.get("port"),
                                                 conn_params.get("database")))
        except Exception:
            connection.close()
            raise
        return connection

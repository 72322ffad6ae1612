"""Django's MySQL backend with UUIDs stored as CHAR(32) on every server.

MariaDB 10.7+ has a native UUID type that Django uses by default; MySQL 8 and MariaDB
10.6 do not. Storing CHAR(32) everywhere gives one schema (database_schema.sql) that
runs on all of them, and data that moves between them.
"""

from django.db.backends.mysql import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    has_native_uuid_field = False


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures

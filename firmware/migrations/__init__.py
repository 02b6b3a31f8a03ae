"""The device database's schema as numbered SQL migrations (``0001_<name>.sql``, ...).

Applied in order by ``firmware.db.open_database``; how to add one is in docs/database.md. This is a
package only so that the files are found with ``importlib.resources`` from an installed wheel too.
"""

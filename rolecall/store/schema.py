"""Tables, migrations and the statements both backends share.

Statements are written once with `?` placeholders (SQLite's style) and translated to psycopg's `%s`
by `pg()`; none of them contains a literal `?` or `%`. DDL differs per dialect (column types,
identity columns, collation), so each dialect has its own migration list. Version N of both lists
describes the same logical schema:

  1. meta (schema_version, generation) and documents.
  2. events and event_resources (CloudTrail history); PostgreSQL also gets `secrets`, where the
     master key lives so every node shares it (SQLite keeps it in a file beside the database).
  3. events.request_id, indexed, filled in from the records already there: `rolecall explain` finds a
     request's records by the request id its client was given.
  4. blobs and blob_chunks: bodies too large for a document (S3 objects and multipart parts, Lambda
     packages), kept in the database so that nodes sharing it share nothing else (rolecall.store.blobs).

A migration runs in its own transaction together with the bump of schema_version, so a crash
mid-upgrade leaves the previous version intact and the next start resumes.
"""

from __future__ import annotations

import functools
import json
from typing import Any

SCHEMA_VERSION_KEY = "schema_version"
GENERATION_KEY = "generation"
MASTER_KEY_NAME = "master_key"

# PostgreSQL advisory lock held (per transaction) while migrating: "rolecall" in ASCII.
MIGRATION_LOCK_ID = 0x726F6C6563616C6C

SQLITE_MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        "INSERT INTO meta (key, value) VALUES ('generation', 0)",
        """CREATE TABLE documents (
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            name_lower TEXT NOT NULL,
            uid TEXT UNIQUE,
            doc TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (account, kind, name_lower)
        ) WITHOUT ROWID""",
        "CREATE INDEX documents_by_kind_name ON documents (kind, name_lower)",
    ],
    [
        # AUTOINCREMENT so a sequence number is never reused, even after reset() empties the table.
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            account TEXT NOT NULL,
            event_time TEXT NOT NULL,
            event_name TEXT,
            event_source TEXT,
            username TEXT,
            access_key_id TEXT,
            read_only TEXT,
            record TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_time ON events (account, event_time, seq)",
        "CREATE INDEX events_by_name ON events (account, event_name, event_time, seq)",
        "CREATE INDEX events_by_source ON events (account, event_source, event_time, seq)",
        "CREATE INDEX events_by_username ON events (account, username, event_time, seq)",
        "CREATE INDEX events_by_access_key ON events (account, access_key_id, event_time, seq)",
        "CREATE INDEX events_by_read_only ON events (account, read_only, event_time, seq)",
        # One row per (event, resource type) and per (event, resource ARN or name): the multi-valued
        # lookup attributes, keyed so a lookup is one index range scan in event order.
        """CREATE TABLE event_resources (
            account TEXT NOT NULL,
            attr TEXT NOT NULL,
            value TEXT NOT NULL,
            event_time TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (account, attr, value, event_time, seq)
        ) WITHOUT ROWID""",
        "CREATE INDEX event_resources_by_seq ON event_resources (seq)",
    ],
    [
        "ALTER TABLE events ADD COLUMN request_id TEXT",
        "UPDATE events SET request_id = json_extract(record, '$.requestID')",
        "CREATE INDEX events_by_request_id ON events (request_id)",
    ],
    [
        # Names are UTF-8 bytes (BLOB compares them with memcmp: S3's key order; any key, NUL included).
        """CREATE TABLE blobs (
            space TEXT NOT NULL,
            name BLOB NOT NULL,
            id TEXT NOT NULL,
            size INTEGER NOT NULL,
            meta TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (space, name)
        ) WITHOUT ROWID""",
        # A rowid table: SQLite advises against WITHOUT ROWID for rows this large (a chunk is up to 1 MiB).
        """CREATE TABLE blob_chunks (
            blob TEXT NOT NULL,
            off INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (blob, off)
        )""",
    ],
]

# COLLATE "C" everywhere: byte order, like SQLite, so list() orders names identically on both backends
# (and comparisons skip locale rules).
POSTGRES_MIGRATIONS: list[list[str]] = [
    [
        'CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL)',
        "INSERT INTO meta (key, value) VALUES ('generation', 0)",
        """CREATE TABLE documents (
            account TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            name_lower TEXT COLLATE "C" NOT NULL,
            uid TEXT COLLATE "C" UNIQUE,
            doc TEXT NOT NULL,
            updated DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account, kind, name_lower)
        )""",
        "CREATE INDEX documents_by_kind_name ON documents (kind, name_lower)",
    ],
    [
        """CREATE TABLE events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id TEXT COLLATE "C" NOT NULL UNIQUE,
            account TEXT COLLATE "C" NOT NULL,
            event_time TIMESTAMPTZ NOT NULL,
            event_name TEXT COLLATE "C",
            event_source TEXT COLLATE "C",
            username TEXT COLLATE "C",
            access_key_id TEXT COLLATE "C",
            read_only TEXT COLLATE "C",
            record TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_time ON events (account, event_time, seq)",
        "CREATE INDEX events_by_name ON events (account, event_name, event_time, seq)",
        "CREATE INDEX events_by_source ON events (account, event_source, event_time, seq)",
        "CREATE INDEX events_by_username ON events (account, username, event_time, seq)",
        "CREATE INDEX events_by_access_key ON events (account, access_key_id, event_time, seq)",
        "CREATE INDEX events_by_read_only ON events (account, read_only, event_time, seq)",
        """CREATE TABLE event_resources (
            account TEXT COLLATE "C" NOT NULL,
            attr TEXT COLLATE "C" NOT NULL,
            value TEXT COLLATE "C" NOT NULL,
            event_time TIMESTAMPTZ NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (account, attr, value, event_time, seq)
        )""",
        "CREATE INDEX event_resources_by_seq ON event_resources (seq)",
        'CREATE TABLE secrets (name TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL)',
    ],
    [
        'ALTER TABLE events ADD COLUMN request_id TEXT COLLATE "C"',
        "UPDATE events SET request_id = record::jsonb ->> 'requestID'",
        "CREATE INDEX events_by_request_id ON events (request_id)",
    ],
    [
        """CREATE TABLE blobs (
            space TEXT COLLATE "C" NOT NULL,
            name BYTEA NOT NULL,
            id TEXT COLLATE "C" NOT NULL,
            size BIGINT NOT NULL,
            meta TEXT NOT NULL,
            updated DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (space, name)
        )""",
        """CREATE TABLE blob_chunks (
            blob TEXT COLLATE "C" NOT NULL,
            off BIGINT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (blob, off)
        )""",
        # Stored out of line uncompressed: bodies are mostly compressed already (pglz would only cost CPU),
        # and an uncompressed TOAST value can be measured (length()) without reading it.
        "ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL",
    ],
]

LATEST_VERSION = len(SQLITE_MIGRATIONS)
assert len(POSTGRES_MIGRATIONS) == LATEST_VERSION

# --- schema version --------------------------------------------------------------------------------

READ_SCHEMA_VERSION = "SELECT value FROM meta WHERE key = 'schema_version'"
SET_SCHEMA_VERSION = (
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# --- documents ---------------------------------------------------------------------------------------

GET = "SELECT doc FROM documents WHERE account = ? AND kind = ? AND name_lower = ?"
LIST = "SELECT doc FROM documents WHERE account = ? AND kind = ? ORDER BY name_lower"
# One page of list(): the primary key's range after a name, so a page reads only its own rows.
LIST_AFTER = (
    "SELECT doc FROM documents WHERE account = ? AND kind = ? AND name_lower > ? ORDER BY name_lower LIMIT ?"
)
# No conflict target: DO NOTHING covers every unique index (the name key and uid). rowcount 0 means
# a conflict; unlike catching an integrity error this never aborts a PostgreSQL transaction, and a
# concurrent uncommitted insert of the same key makes this one wait for its outcome.
INSERT = (
    "INSERT INTO documents (account, kind, name, name_lower, uid, doc, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
UPDATE = "UPDATE documents SET doc = ?, updated = ? WHERE account = ? AND kind = ? AND name_lower = ?"
DELETE = "DELETE FROM documents WHERE account = ? AND kind = ? AND name_lower = ?"
FIND = "SELECT account, doc FROM documents WHERE kind = ? AND name_lower = ? ORDER BY account LIMIT 1"
BY_UID = "SELECT account, kind, doc FROM documents WHERE uid = ?"

# --- generation -------------------------------------------------------------------------------------

READ_GENERATION = "SELECT value FROM meta WHERE key = 'generation'"
BUMP_GENERATION = "UPDATE meta SET value = value + 1 WHERE key = 'generation'"
BUMP_GENERATION_RETURNING = BUMP_GENERATION + " RETURNING value"

# --- events -----------------------------------------------------------------------------------------

_EVENT_COLUMNS = (
    "event_id, account, event_time, event_name, event_source, username, access_key_id, read_only, "
    "request_id, record"
)
INSERT_EVENT = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
# A batch of records in a few statements, so that the trail writer gives up and takes back the GIL (at every
# call into the database) a few times per batch rather than a few times per record. SQLite: the events
# in multi-row VALUES of up to 64 rows (one statement per row count, cached by the connection), and their
# resources from one JSON array parameter, rows [account, attr, value, event_id], joined to the events
# for event_time and seq.
INSERT_EVENTS_ROWS = 64


@functools.cache
def sqlite_insert_events_values(rows: int) -> str:
    return (
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
        + " ON CONFLICT DO NOTHING"
    )


SQLITE_INSERT_EVENT_RESOURCES_JSON = (
    "INSERT INTO event_resources (account, attr, value, event_time, seq) "
    "SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), "
    "e.event_time, e.seq FROM json_each(?) r JOIN events e ON e.event_id = json_extract(r.value, '$[3]') "
    "WHERE true ON CONFLICT DO NOTHING"
)
# PostgreSQL: the same from one jsonb parameter, the times as ISO text (one round trip each, not per record).
PG_INSERT_EVENTS_JSON = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT e->>0, e->>1, (e->>2)::timestamptz, "
    + ", ".join(f"e->>{i}" for i in range(3, 10))
    + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS batch(e, n) ORDER BY n ON CONFLICT DO NOTHING"
)
PG_INSERT_EVENT_RESOURCES_JSON = (
    "INSERT INTO event_resources (account, attr, value, event_time, seq) "
    "SELECT r->>0, r->>1, r->>2, e.event_time, e.seq FROM jsonb_array_elements(%s::jsonb) AS r "
    "JOIN events e ON e.event_id = r->>3 ON CONFLICT DO NOTHING"
)
# Every account's records of one request (the caller's, and a copy for each account whose resource it touched).
EVENTS_BY_REQUEST_ID = "SELECT account, record FROM events WHERE request_id = ? ORDER BY seq"
INSERT_EVENT_RESOURCE = (
    "INSERT INTO event_resources (account, attr, value, event_time, seq) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)

# --- reset ------------------------------------------------------------------------------------------

# reset(): everything but meta (schema version, generation) and secrets; the caller bumps the generation.
RESET = ["DELETE FROM documents", "DELETE FROM event_resources", "DELETE FROM events"]
RESET += ["DELETE FROM blobs", "DELETE FROM blob_chunks"]


def pg(sql: str) -> str:
    """A shared statement in psycopg's placeholder style."""
    return sql.replace("?", "%s")


def dump(doc: dict[str, Any]) -> str:
    """The stored form of a document or record: compact JSON."""
    return json.dumps(doc, separators=(",", ":"))

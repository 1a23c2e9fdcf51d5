//! The journal's schema, one ordered list of versioned migrations per backend, and the one
//! runner that brings a database up to date.
//!
//! The two lists describe the same tables in each dialect and move in step: version `n` of
//! one is version `n` of the other. A database records each version applied in `renkei_schema`;
//! the runner applies the missing ones in order, all in the transaction it is given, so a
//! journal is never left half-migrated. A database newer than the host is refused rather than
//! written to by a host that does not know its tables.

use super::store::JournalError;

/// One schema change: applying it takes the schema from `version - 1` to `version`.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) sql: &'static str,
}

/// A backend's schema history, and what it runs before reading the version.
pub(crate) struct Plan {
    /// Runs first in the transaction: creates `renkei_schema` if missing and, where several
    /// hosts share a database, takes the lock that keeps two of them from migrating at once.
    pub(crate) prologue: &'static str,
    pub(crate) migrations: &'static [Migration],
}

impl Plan {
    /// The version a fully migrated database has.
    pub(crate) fn latest(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }
}

/// What the runner needs of a backend's open transaction.
pub(crate) trait SchemaTx {
    fn execute_batch(&mut self, sql: &str) -> Result<(), JournalError>;
    /// The highest version in `renkei_schema`, `None` when it is empty.
    fn version(&mut self) -> Result<Option<i64>, JournalError>;
    /// Adds `version` to `renkei_schema`.
    fn record(&mut self, version: i64) -> Result<(), JournalError>;
}

/// Applies `plan`'s pending migrations in `tx`. The caller commits.
pub(crate) fn apply(tx: &mut dyn SchemaTx, plan: &Plan) -> Result<(), JournalError> {
    tx.execute_batch(plan.prologue)?;
    let version = tx.version()?.unwrap_or(0);
    if version > plan.latest() {
        return Err(JournalError::Storage(format!(
            "journal schema version {version} is newer than this host ({})",
            plan.latest()
        )));
    }
    for m in plan.migrations.iter().filter(|m| m.version > version) {
        tx.execute_batch(m.sql)?;
        tx.record(m.version)?;
    }
    Ok(())
}

/// The embedded journal's schema.
pub(crate) const SQLITE: Plan = Plan {
    prologue: "CREATE TABLE IF NOT EXISTS renkei_schema (version INTEGER NOT NULL);",
    migrations: SQLITE_MIGRATIONS,
};

/// The advisory lock key under which PostgreSQL journals are created and migrated; the
/// prologue below spells it as a literal, and a test keeps the two equal.
pub(crate) const POSTGRES_LOCK: i64 = 727274;

/// The shared journal's schema.
pub(crate) const POSTGRES: Plan = Plan {
    // Two hosts opening one fresh journal at once must not both migrate: the second waits for
    // the first's commit, then finds nothing left to do.
    prologue: "SELECT pg_advisory_xact_lock(727274);
         CREATE TABLE IF NOT EXISTS renkei_schema (version BIGINT NOT NULL);",
    migrations: POSTGRES_MIGRATIONS,
};

const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE orders (
    order_ref       TEXT PRIMARY KEY,
    gateway         TEXT NOT NULL,
    transaction_ref TEXT,
    state           TEXT NOT NULL,
    gateway_status  TEXT,
    currency        TEXT NOT NULL,
    authorized      INTEGER NOT NULL,
    captured        INTEGER NOT NULL,
    refunded        INTEGER NOT NULL,
    review          TEXT,
    version         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK (0 <= refunded AND refunded <= captured AND captured <= authorized)
);
CREATE TABLE operations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_ref       TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    amount          INTEGER,
    currency        TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    plugin_id       TEXT NOT NULL,
    plugin_version  TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    outcome         TEXT,
    evidence        TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- One writer per order, in the database: at most one pending or unknown operation.
CREATE UNIQUE INDEX operations_one_active_per_order
    ON operations (order_ref) WHERE status IN ('pending', 'unknown');
CREATE INDEX operations_by_order ON operations (order_ref);
CREATE TABLE exchanges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id    INTEGER NOT NULL REFERENCES operations (id),
    step_index      INTEGER NOT NULL,
    step            TEXT NOT NULL,
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            TEXT,
    state           BLOB NOT NULL,
    sent_at         INTEGER NOT NULL,
    reply_status    INTEGER,
    reply_body      BLOB,
    transport_error TEXT,
    replied_at      INTEGER,
    UNIQUE (operation_id, step_index)
);
"#,
    },
    // v2: exchanges a plugin declared read-only (inquiries), for settling unknown outcomes.
    Migration {
        version: 2,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
"#,
    },
    // v3: which journal handle (host) holds an active operation.
    Migration {
        version: 3,
        sql: r#"
ALTER TABLE operations ADD COLUMN owner TEXT;
"#,
    },
    // v4: the shop's side of each order (see `ShopRow`).
    Migration {
        version: 4,
        sql: r#"
CREATE TABLE shop_orders (
    order_ref  TEXT PRIMARY KEY,
    shop       TEXT NOT NULL,
    unpaid     INTEGER NOT NULL,
    data       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL
);
CREATE INDEX shop_orders_by_shop ON shop_orders (shop, unpaid, order_ref);
"#,
    },
    // v5: the attempt each exchange belongs to, so that resolving a retried operation looks at
    // what its current attempt sent, not at an earlier attempt's settled exchanges.
    Migration {
        version: 5,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
"#,
    },
    // v6: what the caller does once an operation took effect (`NewOperation::intent`), and
    // the drift events an operator works through (`DriftRecord`).
    Migration {
        version: 6,
        sql: r#"
ALTER TABLE operations ADD COLUMN intent TEXT;
CREATE INDEX operations_by_status ON operations (status, id);
CREATE TABLE drift_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_ref      TEXT NOT NULL,
    gateway        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    detail         TEXT NOT NULL,
    journal_state  TEXT NOT NULL,
    gateway_state  TEXT NOT NULL,
    gateway_status TEXT,
    found_at       INTEGER NOT NULL,
    resolution     TEXT,
    operator       TEXT,
    resolved_at    INTEGER
);
CREATE INDEX drift_events_open ON drift_events (order_ref, kind) WHERE resolution IS NULL;
"#,
    },
    // v7: an exchange's declared effect (SDK 0.2's `StepEffect`) replaces its read-only flag;
    // rows written before keep their meaning: read-only is `reads`, anything else may move money.
    Migration {
        version: 7,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN effect TEXT NOT NULL DEFAULT 'may_move_money';
UPDATE exchanges SET effect = 'reads' WHERE read_only <> 0;
ALTER TABLE exchanges DROP COLUMN read_only;
"#,
    },
    // v8: a payment's handle (SDK 0.2's `Handle`) with its order: public parts, the secret
    // parts' names, and those parts sealed (never in clear; see `crate::seal`), as JSON.
    Migration {
        version: 8,
        sql: r#"
ALTER TABLE orders ADD COLUMN handle TEXT;
"#,
    },
    // v9: when each order's payment was authorized and captured (the host's clock at each
    // success), for plugins that decide by date (`Context::dates`).
    Migration {
        version: 9,
        sql: r#"
ALTER TABLE orders ADD COLUMN authorized_at INTEGER;
ALTER TABLE orders ADD COLUMN captured_at INTEGER;
"#,
    },
];

const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE orders (
    order_ref       TEXT PRIMARY KEY,
    gateway         TEXT NOT NULL,
    transaction_ref TEXT,
    state           TEXT NOT NULL,
    gateway_status  TEXT,
    currency        TEXT NOT NULL,
    authorized      BIGINT NOT NULL,
    captured        BIGINT NOT NULL,
    refunded        BIGINT NOT NULL,
    review          TEXT,
    version         BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (0 <= refunded AND refunded <= captured AND captured <= authorized)
);
CREATE TABLE operations (
    id              BIGSERIAL PRIMARY KEY,
    order_ref       TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    amount          BIGINT,
    currency        TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    plugin_id       TEXT NOT NULL,
    plugin_version  TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    outcome         TEXT,
    evidence        TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX operations_one_active_per_order
    ON operations (order_ref) WHERE status IN ('pending', 'unknown');
CREATE INDEX operations_by_order ON operations (order_ref);
CREATE TABLE exchanges (
    id              BIGSERIAL PRIMARY KEY,
    operation_id    BIGINT NOT NULL REFERENCES operations (id),
    step_index      BIGINT NOT NULL,
    step            TEXT NOT NULL,
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            TEXT,
    state           BYTEA NOT NULL,
    sent_at         BIGINT NOT NULL,
    reply_status    BIGINT,
    reply_body      BYTEA,
    transport_error TEXT,
    replied_at      BIGINT,
    UNIQUE (operation_id, step_index)
);
"#,
    },
    // v2: exchanges a plugin declared read-only (inquiries), for settling unknown outcomes.
    Migration {
        version: 2,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT false;
"#,
    },
    // v3: which journal handle (host) holds an active operation.
    Migration {
        version: 3,
        sql: r#"
ALTER TABLE operations ADD COLUMN owner TEXT;
"#,
    },
    // v4: the shop's side of each order (see `ShopRow`).
    Migration {
        version: 4,
        sql: r#"
CREATE TABLE shop_orders (
    order_ref  TEXT PRIMARY KEY,
    shop       TEXT NOT NULL,
    unpaid     BOOLEAN NOT NULL,
    data       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL
);
CREATE INDEX shop_orders_by_shop ON shop_orders (shop, unpaid, order_ref);
"#,
    },
    // v5: the attempt each exchange belongs to (see the SQLite schema).
    Migration {
        version: 5,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
"#,
    },
    // v6: operation intents and drift events (see the SQLite schema).
    Migration {
        version: 6,
        sql: r#"
ALTER TABLE operations ADD COLUMN intent TEXT;
CREATE INDEX operations_by_status ON operations (status, id);
CREATE TABLE drift_events (
    id             BIGSERIAL PRIMARY KEY,
    order_ref      TEXT NOT NULL,
    gateway        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    detail         TEXT NOT NULL,
    journal_state  TEXT NOT NULL,
    gateway_state  TEXT NOT NULL,
    gateway_status TEXT,
    found_at       BIGINT NOT NULL,
    resolution     TEXT,
    operator       TEXT,
    resolved_at    BIGINT
);
CREATE INDEX drift_events_open ON drift_events (order_ref, kind) WHERE resolution IS NULL;
"#,
    },
    // v7: an exchange's declared effect (see the SQLite schema).
    Migration {
        version: 7,
        sql: r#"
ALTER TABLE exchanges ADD COLUMN effect TEXT NOT NULL DEFAULT 'may_move_money';
UPDATE exchanges SET effect = 'reads' WHERE read_only;
ALTER TABLE exchanges DROP COLUMN read_only;
"#,
    },
    // v8: a payment's handle (see the SQLite schema).
    Migration {
        version: 8,
        sql: r#"
ALTER TABLE orders ADD COLUMN handle TEXT;
"#,
    },
    // v9: payment dates (see the SQLite schema).
    Migration {
        version: 9,
        sql: r#"
ALTER TABLE orders ADD COLUMN authorized_at BIGINT;
ALTER TABLE orders ADD COLUMN captured_at BIGINT;
"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one_and_both_backends_move_in_step() {
        for plan in [&SQLITE, &POSTGRES] {
            let versions: Vec<i64> = plan.migrations.iter().map(|m| m.version).collect();
            let expected: Vec<i64> = (1..=plan.migrations.len() as i64).collect();
            assert_eq!(versions, expected);
        }
        assert_eq!(SQLITE.latest(), POSTGRES.latest());
    }

    /// A transaction that only records what the runner asks of it.
    #[derive(Default)]
    struct Recorder {
        version: Option<i64>,
        ran: Vec<String>,
    }

    impl SchemaTx for Recorder {
        fn execute_batch(&mut self, sql: &str) -> Result<(), JournalError> {
            self.ran.push(sql.to_owned());
            Ok(())
        }
        fn version(&mut self) -> Result<Option<i64>, JournalError> {
            Ok(self.version)
        }
        fn record(&mut self, version: i64) -> Result<(), JournalError> {
            self.ran.push(format!("record {version}"));
            self.version = Some(version);
            Ok(())
        }
    }

    const PLAN: Plan = Plan {
        prologue: "prologue",
        migrations: &[
            Migration {
                version: 1,
                sql: "one",
            },
            Migration {
                version: 2,
                sql: "two",
            },
            Migration {
                version: 3,
                sql: "three",
            },
        ],
    };

    #[test]
    fn only_the_missing_versions_run_in_order_after_the_prologue() {
        let mut tx = Recorder {
            version: Some(1),
            ..Recorder::default()
        };
        apply(&mut tx, &PLAN).unwrap();
        assert_eq!(tx.ran, ["prologue", "two", "record 2", "three", "record 3"]);
        let mut fresh = Recorder::default();
        apply(&mut fresh, &PLAN).unwrap();
        assert_eq!(fresh.ran.len(), 1 + 2 * 3);
        let mut current = Recorder {
            version: Some(3),
            ..Recorder::default()
        };
        apply(&mut current, &PLAN).unwrap();
        assert_eq!(current.ran, ["prologue"]);
    }

    #[test]
    fn a_database_newer_than_the_host_is_refused_untouched() {
        let mut tx = Recorder {
            version: Some(4),
            ..Recorder::default()
        };
        let err = apply(&mut tx, &PLAN).unwrap_err();
        assert_eq!(
            err.to_string(),
            JournalError::Storage("journal schema version 4 is newer than this host (3)".into())
                .to_string()
        );
        assert_eq!(tx.ran, ["prologue"]);
    }
}

#[cfg(test)]
mod sqlite_tests {
    use super::*;
    use rusqlite::Connection;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("renkei-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    fn versions(path: &std::path::Path) -> Vec<i64> {
        let c = Connection::open(path).unwrap();
        let mut stmt = c
            .prepare("SELECT version FROM renkei_schema ORDER BY version")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn an_older_journal_is_brought_up_to_date_keeping_its_rows() {
        let path = scratch("old.db");
        {
            let c = Connection::open(&path).unwrap();
            let tx = c.unchecked_transaction().unwrap();
            let old = Plan {
                prologue: SQLITE.prologue,
                migrations: &SQLITE.migrations[..3],
            };
            for m in old.migrations {
                tx.execute_batch(m.sql).unwrap();
            }
            tx.execute_batch(old.prologue).unwrap();
            for v in 1..=3 {
                tx.execute("INSERT INTO renkei_schema (version) VALUES (?1)", [v])
                    .unwrap();
            }
            tx.execute(
                "INSERT INTO orders VALUES ('o1', 'main', NULL, '\"authorized\"', NULL, 'JPY', \
                 1000, 0, 0, NULL, 1, 0)",
                [],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let journal = crate::journal::sqlite::open(&path).unwrap();
        drop(journal);
        assert_eq!(versions(&path), (1..=SQLITE.latest()).collect::<Vec<_>>());
        let c = Connection::open(&path).unwrap();
        let kept: i64 = c
            .query_row(
                "SELECT authorized FROM orders WHERE order_ref = 'o1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1000);
        let drift_events: i64 = c
            .query_row("SELECT count(*) FROM drift_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(drift_events, 0);
    }

    #[test]
    fn a_journal_newer_than_the_host_is_not_opened() {
        let path = scratch("new.db");
        drop(crate::journal::sqlite::open(&path).unwrap());
        let newer = SQLITE.latest() + 1;
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO renkei_schema (version) VALUES (?1)", [newer])
            .unwrap();
        let err = crate::journal::sqlite::open(&path).err().expect("refused");
        assert_eq!(
            err.to_string(),
            JournalError::Storage(format!(
                "journal schema version {newer} is newer than this host ({})",
                SQLITE.latest()
            ))
            .to_string()
        );
    }
}

#[cfg(test)]
mod postgres_tests {
    use super::*;
    use crate::journal::tests::postgres_url;

    /// The advisory lock: hosts opening one fresh journal (not even its schema exists) at once
    /// each find a complete schema, and each version is applied once.
    #[test]
    fn the_prologue_takes_the_lock_the_schema_is_created_under() {
        let lock = format!("pg_advisory_xact_lock({POSTGRES_LOCK})");
        assert!(POSTGRES.prologue.contains(&lock));
    }

    #[test]
    fn hosts_opening_a_fresh_journal_at_once_migrate_it_once() {
        let Some(url) = postgres_url() else { return };
        // Not under `renkei_test_{pid}_`, which the suite drops when it finishes, maybe mid-way here.
        let schema = format!("renkei_migrate_{}", std::process::id());
        // The schema does not exist yet either: every host creates it if missing, under the
        // same lock.
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let hosts: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (url.clone(), schema.clone());
                std::thread::spawn(move || crate::journal::postgres::open(&url, &schema, 1))
            })
            .collect();
        let opened: Vec<_> = hosts
            .into_iter()
            .map(|h| h.join().unwrap().map(drop))
            .collect();
        let versions: Vec<i64> = c
            .query(
                &format!("SELECT version FROM {schema}.renkei_schema ORDER BY version"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
        for o in opened {
            o.expect("every host opens the journal");
        }
        assert_eq!(versions, (1..=POSTGRES.latest()).collect::<Vec<_>>());
    }
}

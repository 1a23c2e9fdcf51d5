//! The embedded journal: one SQLite file in WAL mode with `synchronous = FULL`, so a commit is on
//! disk before `record_send` returns and the request leaves.

use super::codec::{self, DRIFT_COLUMNS, DriftRow, ExchangeRow, OpRow, OrderRow};
use super::group::{Call, Group, GroupConn};
use super::logic::{Backend, Journal, Tx};
use super::migrate;
use super::model::*;
use super::pool::Pool;
use super::store::{JournalError, JournalStore};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Read-only connections per journal handle.
const READERS: usize = 4;

fn storage(e: rusqlite::Error) -> JournalError {
    JournalError::Storage(e.to_string())
}

/// One writer connection with group commit ([`Group`]: each call in a savepoint of the shared
/// transaction), and read-only connections beside it.
pub(crate) struct Sqlite {
    writer: Group<Writer>,
    /// Read-only connections for calls that only read: they see committed data (WAL readers
    /// are not blocked by the writer) and so never wait behind a commit's fsync.
    readers: Pool<Connection>,
}

/// The writer connection. Each call runs in a savepoint, so a failed call is undone alone and
/// the rest of the shared transaction stands.
struct Writer(Connection);

impl GroupConn for Writer {
    fn begin(&mut self) -> Result<(), JournalError> {
        // IMMEDIATE takes the write lock up front: the whole database is one writer at a time,
        // which is also what makes "one writer per order" hold across processes.
        self.0.execute_batch("BEGIN IMMEDIATE").map_err(storage)
    }

    fn commit(&mut self) -> Result<(), String> {
        self.0.execute_batch("COMMIT").map_err(|e| {
            let _ = self.0.execute_batch("ROLLBACK");
            e.to_string()
        })
    }

    fn rollback(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }

    fn call<T>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>) -> Call<T> {
        if let Err(e) = self.0.execute_batch("SAVEPOINT call") {
            return Call::Abandon(storage(e));
        }
        match f(&mut SqliteTx { tx: &self.0 }) {
            Ok(value) => match self.0.execute_batch("RELEASE call") {
                Ok(()) => Call::Done(Ok(value)),
                Err(e) => Call::Abandon(storage(e)),
            },
            // Undo this call's statements only; the others in the batch stand. If that fails
            // the batch cannot be trusted and is abandoned for everyone in it.
            Err(e) => match self.0.execute_batch("ROLLBACK TO call; RELEASE call") {
                Ok(()) => Call::Done(Err(e)),
                Err(_) => Call::Abandon(e),
            },
        }
    }
}

/// Opens (creating if needed) a SQLite journal and runs pending migrations.
pub fn open(path: &Path) -> Result<Box<dyn JournalStore>, JournalError> {
    let conn = Connection::open(path).map_err(storage)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;",
    )
    .map_err(storage)?;
    migrate(&conn)?;
    let readers = Pool::open(READERS, || {
        let r = Connection::open(path).map_err(storage)?;
        r.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 10000;")
            .map_err(storage)?;
        Ok(r)
    })?;
    Ok(Box::new(Journal::new(Sqlite {
        readers,
        writer: Group::new(Writer(conn)),
    })))
}

/// Brings the schema up to date ([`migrate::SQLITE`]) in one transaction.
fn migrate(conn: &Connection) -> Result<(), JournalError> {
    let tx = conn.unchecked_transaction().map_err(storage)?;
    migrate::apply(&mut SchemaOn(&tx), &migrate::SQLITE)?;
    tx.commit().map_err(storage)
}

struct SchemaOn<'a>(&'a Connection);

impl migrate::SchemaTx for SchemaOn<'_> {
    fn execute_batch(&mut self, sql: &str) -> Result<(), JournalError> {
        self.0.execute_batch(sql).map_err(storage)
    }
    fn version(&mut self) -> Result<Option<i64>, JournalError> {
        self.0
            .query_row("SELECT max(version) FROM renkei_schema", [], |r| r.get(0))
            .map_err(storage)
    }
    fn record(&mut self, version: i64) -> Result<(), JournalError> {
        self.0
            .execute("INSERT INTO renkei_schema (version) VALUES (?1)", [version])
            .map_err(storage)
            .map(drop)
    }
}

impl Backend for Sqlite {
    const NAME: &'static str = "sqlite";
    const READS_IN_PLACE: bool = true;

    fn transaction<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.writer.transaction(f)
    }
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.read_on_reader(f)
    }
}

impl Sqlite {
    fn read_on_reader<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.readers.with(|conn| {
            // One snapshot for the whole call (a call may read several tables).
            let result = conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(storage)
                .and_then(|()| f(&mut SqliteTx { tx: conn }));
            let end = conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
            let value = result?;
            end.map_err(storage)?;
            Ok(value)
        })
    }
}

struct SqliteTx<'a> {
    tx: &'a Connection,
}

const OP_COLUMNS: &str = "id, order_ref, gateway, kind, amount, currency, idempotency_key, \
    plugin_id, plugin_version, status, attempt, outcome, evidence, created_at, updated_at, owner, \
    intent";

fn op_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OpRow> {
    Ok(OpRow {
        id: r.get(0)?,
        order_ref: r.get(1)?,
        gateway: r.get(2)?,
        kind: r.get(3)?,
        amount: r.get(4)?,
        currency: r.get(5)?,
        idempotency_key: r.get(6)?,
        plugin_id: r.get(7)?,
        plugin_version: r.get(8)?,
        status: r.get(9)?,
        attempt: r.get(10)?,
        outcome: r.get(11)?,
        evidence: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        owner: r.get(15)?,
        intent: r.get(16)?,
    })
}

fn drift_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DriftRow> {
    Ok(DriftRow {
        id: r.get(0)?,
        order_ref: r.get(1)?,
        gateway: r.get(2)?,
        kind: r.get(3)?,
        detail: r.get(4)?,
        journal_state: r.get(5)?,
        gateway_state: r.get(6)?,
        gateway_status: r.get(7)?,
        found_at: r.get(8)?,
        resolution: r.get(9)?,
        operator: r.get(10)?,
        resolved_at: r.get(11)?,
    })
}

impl SqliteTx<'_> {
    fn ops(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<OperationRecord>, JournalError> {
        let mut stmt = self.tx.prepare_cached(sql).map_err(storage)?;
        let rows = stmt
            .query_map(p, op_row)
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(OpRow::into_record).collect()
    }

    fn one_op(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<OperationRecord>, JournalError> {
        Ok(self.ops(sql, p)?.into_iter().next())
    }
}

impl Tx for SqliteTx<'_> {
    fn lock_order(&mut self, _order: &str) -> Result<(), JournalError> {
        Ok(())
    }

    fn load_order(&mut self, order: &str) -> Result<Option<OrderRecord>, JournalError> {
        let row = self
            .tx
            .prepare_cached(
                "SELECT order_ref, gateway, transaction_ref, state, gateway_status, currency, \
                 authorized, captured, refunded, review, version, handle, authorized_at, \
                 captured_at FROM orders \
                 WHERE order_ref = ?1",
            )
            .map_err(storage)?
            .query_row([order], |r| {
                Ok(OrderRow {
                    order_ref: r.get(0)?,
                    gateway: r.get(1)?,
                    transaction_ref: r.get(2)?,
                    state: r.get(3)?,
                    gateway_status: r.get(4)?,
                    currency: r.get(5)?,
                    authorized: r.get(6)?,
                    captured: r.get(7)?,
                    refunded: r.get(8)?,
                    review: r.get(9)?,
                    version: r.get(10)?,
                    handle: r.get(11)?,
                    authorized_at: r.get(12)?,
                    captured_at: r.get(13)?,
                })
            })
            .optional()
            .map_err(storage)?;
        row.map(OrderRow::into_record).transpose()
    }

    fn save_order(&mut self, o: &OrderRecord, now_ms: i64) -> Result<(), JournalError> {
        self.tx
            .prepare_cached(
                "INSERT INTO orders (order_ref, gateway, transaction_ref, state, gateway_status, \
                 currency, authorized, captured, refunded, review, version, updated_at, handle, \
                 authorized_at, captured_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (order_ref) DO UPDATE SET gateway = excluded.gateway, \
                 transaction_ref = excluded.transaction_ref, state = excluded.state, \
                 gateway_status = excluded.gateway_status, currency = excluded.currency, \
                 authorized = excluded.authorized, captured = excluded.captured, \
                 refunded = excluded.refunded, review = excluded.review, \
                 version = excluded.version, updated_at = excluded.updated_at, \
                 handle = excluded.handle, authorized_at = excluded.authorized_at, \
                 captured_at = excluded.captured_at",
            )
            .map_err(storage)?
            .execute(params![
                o.order.as_str(),
                o.gateway,
                o.transaction.as_ref().map(|t| t.as_str()),
                codec::state_json(&o.state),
                o.gateway_status,
                o.authorized.currency.as_str(),
                o.authorized.minor_units,
                o.captured.minor_units,
                o.refunded.minor_units,
                o.review,
                o.version,
                now_ms,
                o.handle.as_ref().map(codec::handle_json),
                o.authorized_at_ms,
                o.captured_at_ms,
            ])
            .map_err(storage)?;
        Ok(())
    }

    fn op_by_key(&mut self, key: &str) -> Result<Option<OperationRecord>, JournalError> {
        self.one_op(
            &format!("SELECT {OP_COLUMNS} FROM operations WHERE idempotency_key = ?1"),
            [key],
        )
    }

    fn op_by_id(&mut self, id: OperationId) -> Result<Option<OperationRecord>, JournalError> {
        self.one_op(
            &format!("SELECT {OP_COLUMNS} FROM operations WHERE id = ?1"),
            [id.0],
        )
    }

    fn active_op(&mut self, order: &str) -> Result<Option<OperationRecord>, JournalError> {
        self.one_op(
            &format!(
                "SELECT {OP_COLUMNS} FROM operations \
                 WHERE order_ref = ?1 AND status IN ('pending', 'unknown')"
            ),
            [order],
        )
    }

    fn insert_op(
        &mut self,
        op: &NewOperation,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
    ) -> Result<OperationRecord, JournalError> {
        self.tx
            .prepare_cached(
                "INSERT INTO operations (order_ref, gateway, kind, amount, currency, \
                 idempotency_key, plugin_id, plugin_version, status, attempt, lease_until, \
                 created_at, updated_at, owner, intent) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 1, ?9, ?10, ?10, ?11, ?12)",
            )
            .map_err(storage)?
            .execute(params![
                op.order.as_str(),
                op.gateway,
                codec::kind_name(op.kind),
                op.amount.map(|a| a.minor_units),
                op.amount.map(|a| a.currency.as_str().to_owned()),
                op.idempotency_key,
                op.plugin_id,
                op.plugin_version,
                lease_until,
                now_ms,
                owner,
                op.intent,
            ])
            .map_err(storage)?;
        let id = OperationId(self.tx.last_insert_rowid());
        self.op_by_id(id)?
            .ok_or_else(|| JournalError::Corrupt("inserted operation not found".into()))
    }

    fn update_op(
        &mut self,
        op: &OperationRecord,
        lease_until: Option<i64>,
    ) -> Result<(), JournalError> {
        self.tx
            .prepare_cached(
                "UPDATE operations SET status = ?2, attempt = ?3, outcome = ?4, evidence = ?5, \
                 amount = ?6, currency = ?7, updated_at = ?8, \
                 lease_until = coalesce(?9, lease_until), owner = ?10 WHERE id = ?1",
            )
            .map_err(storage)?
            .execute(params![
                op.id.0,
                op.status.name(),
                op.attempt,
                op.outcome.as_ref().map(codec::outcome_json),
                op.evidence,
                op.amount.map(|a| a.minor_units),
                op.amount.map(|a| a.currency.as_str().to_owned()),
                op.updated_at_ms,
                lease_until,
                op.owner,
            ])
            .map_err(storage)?;
        Ok(())
    }

    fn insert_exchange(
        &mut self,
        op: OperationId,
        x: &SentExchange,
        now_ms: i64,
    ) -> Result<ExchangeId, JournalError> {
        self.tx
            .prepare_cached(
                "INSERT INTO exchanges (operation_id, step_index, step, method, url, headers, \
                 body, state, sent_at, effect, attempt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(storage)?
            .execute(params![
                op.0,
                x.step_index,
                x.step,
                x.method,
                x.url,
                codec::headers_json(&x.headers),
                x.body,
                x.state,
                now_ms,
                x.effect.name(),
                x.attempt,
            ])
            .map_err(storage)?;
        Ok(ExchangeId(self.tx.last_insert_rowid()))
    }

    fn set_reply(
        &mut self,
        x: ExchangeId,
        reply: &ReplyRecord,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        let (status, body, error) = match reply {
            ReplyRecord::Reply { status, body } => {
                (Some(*status as i64), Some(body.as_slice()), None)
            }
            ReplyRecord::NoReply { error } => (None, None, Some(error.as_str())),
        };
        let n = self
            .tx
            .prepare_cached(
                "UPDATE exchanges SET reply_status = ?2, reply_body = ?3, transport_error = ?4, \
                 replied_at = ?5 WHERE id = ?1 AND replied_at IS NULL",
            )
            .map_err(storage)?
            .execute(params![x.0, status, body, error, now_ms])
            .map_err(storage)?;
        if n == 1 {
            Ok(())
        } else {
            Err(JournalError::Corrupt(format!(
                "exchange {} is unknown or already has a reply",
                x.0
            )))
        }
    }

    fn claim_stale(
        &mut self,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
    ) -> Result<Vec<OperationRecord>, JournalError> {
        let stale = self.ops(
            &format!(
                "SELECT {OP_COLUMNS} FROM operations WHERE status IN ('pending', 'unknown') \
                 AND coalesce(lease_until, 0) < ?1 ORDER BY id LIMIT 1"
            ),
            [now_ms],
        )?;
        for op in &stale {
            self.tx
                .execute(
                    "UPDATE operations SET lease_until = ?2, owner = ?3 WHERE id = ?1",
                    params![op.id.0, lease_until, owner],
                )
                .map_err(storage)?;
        }
        Ok(stale
            .into_iter()
            .map(|mut op| {
                op.owner = Some(owner.to_owned());
                op
            })
            .collect())
    }

    fn ops_for_order(&mut self, order: &str) -> Result<Vec<OperationRecord>, JournalError> {
        self.ops(
            &format!("SELECT {OP_COLUMNS} FROM operations WHERE order_ref = ?1 ORDER BY id"),
            [order],
        )
    }

    fn exchanges_for_op(&mut self, op: OperationId) -> Result<Vec<ExchangeRecord>, JournalError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT id, operation_id, step_index, step, method, url, headers, body, state, \
                 sent_at, reply_status, reply_body, transport_error, effect, attempt \
                 FROM exchanges WHERE operation_id = ?1 ORDER BY step_index",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([op.0], |r| {
                Ok(ExchangeRow {
                    id: r.get(0)?,
                    operation_id: r.get(1)?,
                    step_index: r.get(2)?,
                    step: r.get(3)?,
                    method: r.get(4)?,
                    url: r.get(5)?,
                    headers: r.get(6)?,
                    body: r.get(7)?,
                    state: r.get(8)?,
                    sent_at: r.get(9)?,
                    reply_status: r.get(10)?,
                    reply_body: r.get(11)?,
                    transport_error: r.get(12)?,
                    effect: r.get(13)?,
                    attempt: r.get(14)?,
                })
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(ExchangeRow::into_record).collect()
    }

    fn save_shop_row(&mut self, row: &ShopRow) -> Result<bool, JournalError> {
        let sql = if row.version == 0 {
            "INSERT INTO shop_orders (order_ref, shop, unpaid, data, updated_at, version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6 + 1) ON CONFLICT (order_ref) DO NOTHING"
        } else {
            "UPDATE shop_orders SET shop = ?2, unpaid = ?3, data = ?4, updated_at = ?5, \
             version = ?6 + 1 WHERE order_ref = ?1 AND version = ?6"
        };
        let n = self
            .tx
            .prepare_cached(sql)
            .map_err(storage)?
            .execute(params![
                row.order.as_str(),
                row.shop,
                row.unpaid,
                row.data,
                row.updated_ms,
                row.version
            ])
            .map_err(storage)?;
        Ok(n == 1)
    }

    fn insert_drift(&mut self, d: &NewDrift, now_ms: i64) -> Result<DriftRecord, JournalError> {
        self.tx
            .prepare_cached(
                "INSERT INTO drift_events (order_ref, gateway, kind, detail, journal_state, \
                 gateway_state, gateway_status, found_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(storage)?
            .execute(params![
                d.order.as_str(),
                d.gateway,
                d.kind,
                d.detail,
                codec::state_json(&d.journal_state),
                codec::state_json(&d.gateway_state),
                d.gateway_status,
                now_ms,
            ])
            .map_err(storage)?;
        let id = DriftId(self.tx.last_insert_rowid());
        self.drift_by_id(id)?
            .ok_or_else(|| JournalError::Corrupt("inserted drift event not found".into()))
    }

    fn open_drift(&mut self, order: &str, kind: &str) -> Result<Option<DriftRecord>, JournalError> {
        self.drifts_where(
            "order_ref = ?1 AND kind = ?2 AND resolution IS NULL",
            params![order, kind],
        )
        .map(|v| v.into_iter().next())
    }

    fn drift_by_id(&mut self, id: DriftId) -> Result<Option<DriftRecord>, JournalError> {
        self.drifts_where("id = ?1", params![id.0])
            .map(|v| v.into_iter().next())
    }

    fn list_drifts(&mut self, open_only: bool) -> Result<Vec<DriftRecord>, JournalError> {
        self.drifts_where("resolution IS NULL OR NOT ?1", params![open_only])
    }

    fn close_drift(
        &mut self,
        id: DriftId,
        action: &str,
        operator: &str,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.tx
            .prepare_cached(
                "UPDATE drift_events SET resolution = ?2, operator = ?3, resolved_at = ?4 \
                 WHERE id = ?1",
            )
            .map_err(storage)?
            .execute(params![id.0, action, operator, now_ms])
            .map_err(storage)?;
        Ok(())
    }

    fn ops_with_status(
        &mut self,
        status: OperationStatus,
    ) -> Result<Vec<OperationRecord>, JournalError> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {OP_COLUMNS} FROM operations WHERE status = ?1 ORDER BY id"
            ))
            .map_err(storage)?;
        let rows = stmt
            .query_map([status.name()], op_row)
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(OpRow::into_record).collect()
    }

    fn load_shop_row(&mut self, order: &str) -> Result<Option<ShopRow>, JournalError> {
        self.tx
            .prepare_cached(
                "SELECT order_ref, shop, unpaid, data, updated_at, version FROM shop_orders \
                 WHERE order_ref = ?1",
            )
            .map_err(storage)?
            .query_row([order], shop_row)
            .optional()
            .map_err(storage)
    }

    fn list_shop_rows(
        &mut self,
        shop: &str,
        unpaid_only: bool,
    ) -> Result<Vec<ShopRow>, JournalError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT order_ref, shop, unpaid, data, updated_at, version FROM shop_orders \
                 WHERE shop = ?1 AND (unpaid OR NOT ?2) ORDER BY order_ref",
            )
            .map_err(storage)?;
        stmt.query_map(params![shop, unpaid_only], shop_row)
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)
    }
}

impl SqliteTx<'_> {
    fn drifts_where(
        &mut self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<DriftRecord>, JournalError> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {DRIFT_COLUMNS} FROM drift_events WHERE {condition} ORDER BY id"
            ))
            .map_err(storage)?;
        let rows = stmt
            .query_map(params, drift_row)
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(DriftRow::into_record).collect()
    }
}

fn shop_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShopRow> {
    Ok(ShopRow {
        order: renkei_sdk::OrderRef::new(r.get::<_, String>(0)?),
        shop: r.get(1)?,
        unpaid: r.get(2)?,
        data: r.get(3)?,
        updated_ms: r.get(4)?,
        version: r.get(5)?,
    })
}

//! The shared journal: PostgreSQL, for several host processes on one journal. One writer per
//! order is enforced in the database twice over: a transaction-scoped advisory lock on the order
//! serialises the checks, and a partial unique index allows one active operation per order.

use super::codec::{self, DRIFT_COLUMNS, DriftRow, ExchangeRow, OpRow, OrderRow};
use super::group::{Call, Group, GroupConn};
use super::logic::{Backend, Journal, Tx};
use super::migrate;
use super::model::*;
use super::pool::Pool;
use super::store::{JournalError, JournalStore};
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The database's clock, in unix milliseconds. Leases are anchored to it rather than to the
/// hosts' clocks, which differ: a lease is written as "this long from now" (the host's
/// `lease_until - now`) and compared with the same clock, so a host whose clock runs behind can
/// neither have its operations claimed early nor claim others' late.
const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

fn storage(e: postgres::Error) -> JournalError {
    // Driver messages name constraints and columns, never bound values.
    JournalError::Storage(e.to_string())
}

/// Writer connections, each with group commit ([`Group`]), and a pool of connections for reads.
pub(crate) struct Postgres {
    writers: Vec<Group<PgConn>>,
    /// Round-robin over `writers`.
    next: AtomicUsize,
    readers: Pool<PgConn>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let writers: Vec<PgConn> = std::mem::take(&mut self.writers)
            .into_iter()
            .map(Group::into_conn)
            .collect();
        let readers = self.readers.drain();
        // See `open`: a client may not be dropped on an async worker thread.
        let _ = std::thread::spawn(move || drop((writers, readers))).join();
    }
}

/// How many of a journal's connections write (each one shared transaction at a time, see
/// [`Group`]); the rest serve reads. A few writers let one writer's commit overlap another's
/// calls; more only add contention on two cores.
fn writer_count(connections: usize) -> usize {
    (connections / 4).clamp(1, 4)
}

/// A connection and its prepared statements: each statement is parsed once per connection,
/// then every use is one round trip (bind and execute) instead of two.
struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    fn tx(&mut self) -> PgTx<'_> {
        PgTx {
            client: &mut self.client,
            statements: &mut self.statements,
            wrote: false,
            broken: false,
            busy: false,
        }
    }
}

impl GroupConn for PgConn {
    fn begin(&mut self) -> Result<(), JournalError> {
        self.client.batch_execute("BEGIN").map_err(storage)
    }

    fn commit(&mut self) -> Result<(), String> {
        self.client.batch_execute("COMMIT").map_err(|e| {
            let _ = self.client.batch_execute("ROLLBACK");
            e.to_string()
        })
    }

    fn rollback(&mut self) {
        let _ = self.client.batch_execute("ROLLBACK");
    }

    /// No savepoint per call (each would be a round trip and a subtransaction): a call that
    /// fails before writing leaves the transaction as it was; one that fails after writing, or
    /// whose statement failed (which aborts a PostgreSQL transaction), abandons it.
    fn call<T>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>) -> Call<T> {
        let mut tx = self.tx();
        let result = f(&mut tx);
        match result {
            Ok(value) => Call::Done(Ok(value)),
            Err(_) if tx.busy && !tx.wrote && !tx.broken => Call::Busy,
            Err(e) if !tx.wrote && !tx.broken => Call::Done(Err(e)),
            Err(e) => Call::Abandon(e),
        }
    }
}

/// Opens a PostgreSQL journal at `url` (e.g. `postgres://postgres@127.0.0.1/test`) with
/// `connections` pooled connections, in `schema` (created if missing, so tests can isolate
/// themselves), and runs pending migrations.
///
/// The `postgres` client drives its own small runtime and panics when used on a thread that is
/// driving async tasks. Opening and dropping therefore happen on a thread of their own, so a
/// host may call this, and drop the journal, from async code; every other call already runs on
/// a blocking thread (see `executor`).
pub fn open(
    url: &str,
    schema: &str,
    connections: usize,
) -> Result<Box<dyn JournalStore>, JournalError> {
    let (url, schema) = (url.to_owned(), schema.to_owned());
    std::thread::spawn(move || open_here(&url, &schema, connections))
        .join()
        .map_err(|_| JournalError::Storage("opening the journal panicked".into()))?
}

fn open_here(
    url: &str,
    schema: &str,
    connections: usize,
) -> Result<Box<dyn JournalStore>, JournalError> {
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(JournalError::Storage(format!("bad schema name {schema:?}")));
    }
    let connect = || -> Result<Client, JournalError> {
        let mut c = Client::connect(url, NoTls).map_err(storage)?;
        c.batch_execute(&format!("SET search_path TO {schema};"))
            .map_err(storage)?;
        Ok(c)
    };
    let mut first = connect()?;
    // Two hosts creating one missing schema at once would race in `CREATE SCHEMA IF NOT EXISTS`
    // (a unique violation in the catalog), so it is created under the migrations' lock.
    first
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({}); \
             CREATE SCHEMA IF NOT EXISTS {schema}; COMMIT;",
            migrate::POSTGRES_LOCK
        ))
        .map_err(storage)?;
    migrate(&mut first)?;
    let conn = |client| PgConn {
        client,
        statements: HashMap::new(),
    };
    let writers = (0..writer_count(connections))
        .map(|_| connect().map(|c| Group::new(conn(c))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut first = Some(first);
    let readers = Pool::open(connections.saturating_sub(writers.len()), || {
        Ok(conn(match first.take() {
            Some(c) => c,
            None => connect()?,
        }))
    })?;
    Ok(Box::new(Journal::new(Postgres {
        writers,
        next: AtomicUsize::new(0),
        readers,
    })))
}

/// Brings the schema up to date ([`migrate::POSTGRES`], whose prologue takes the advisory lock)
/// in one transaction.
fn migrate(c: &mut Client) -> Result<(), JournalError> {
    let mut tx = c.transaction().map_err(storage)?;
    migrate::apply(&mut SchemaOn(&mut tx), &migrate::POSTGRES)?;
    tx.commit().map_err(storage)
}

struct SchemaOn<'a, 'c>(&'a mut postgres::Transaction<'c>);

impl migrate::SchemaTx for SchemaOn<'_, '_> {
    fn execute_batch(&mut self, sql: &str) -> Result<(), JournalError> {
        self.0.batch_execute(sql).map_err(storage)
    }
    fn version(&mut self) -> Result<Option<i64>, JournalError> {
        Ok(self
            .0
            .query_one("SELECT max(version) FROM renkei_schema", &[])
            .map_err(storage)?
            .get(0))
    }
    fn record(&mut self, version: i64) -> Result<(), JournalError> {
        self.0
            .execute(
                "INSERT INTO renkei_schema (version) VALUES ($1)",
                &[&version],
            )
            .map_err(storage)
            .map(drop)
    }
}

impl Backend for Postgres {
    const NAME: &'static str = "postgres";

    fn transaction<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        self.writers[i].transaction(f)
    }

    /// Reads run as single autocommit statements: each journal read is one statement, so it
    /// is its own consistent snapshot. A broken connection goes back to the pool too: the next
    /// call on it fails and says so.
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.readers.with(|c| f(&mut c.tx()))
    }
}

/// The SQL primitives over a writer's shared transaction, or (for reads) over a bare connection
/// in autocommit mode: one round trip per statement instead of three (BEGIN, statement, COMMIT).
/// It notes what a failed call left behind, which decides whether the shared transaction can go
/// on without it ([`GroupConn::call`]).
struct PgTx<'a> {
    client: &'a mut Client,
    statements: &'a mut HashMap<String, Statement>,
    /// A statement that writes ran.
    wrote: bool,
    /// A statement failed: PostgreSQL has aborted the transaction.
    broken: bool,
    /// An order's lock is held by another host's transaction.
    busy: bool,
}

const OP_COLUMNS: &str = "id, order_ref, gateway, kind, amount, currency, idempotency_key, \
    plugin_id, plugin_version, status, attempt, outcome, evidence, created_at, updated_at, owner, \
    intent";

fn op_row(r: &Row) -> OpRow {
    OpRow {
        id: r.get(0),
        order_ref: r.get(1),
        gateway: r.get(2),
        kind: r.get(3),
        amount: r.get(4),
        currency: r.get(5),
        idempotency_key: r.get(6),
        plugin_id: r.get(7),
        plugin_version: r.get(8),
        status: r.get(9),
        attempt: r.get(10),
        outcome: r.get(11),
        evidence: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
        owner: r.get(15),
        intent: r.get(16),
    }
}

fn drift_row(r: &Row) -> DriftRow {
    DriftRow {
        id: r.get(0),
        order_ref: r.get(1),
        gateway: r.get(2),
        kind: r.get(3),
        detail: r.get(4),
        journal_state: r.get(5),
        gateway_state: r.get(6),
        gateway_status: r.get(7),
        found_at: r.get(8),
        resolution: r.get(9),
        operator: r.get(10),
        resolved_at: r.get(11),
    }
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.client.prepare(sql);
        let s = self.noted(sql, prepared)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Notes a statement's effect on the transaction (see the fields).
    fn noted<T>(
        &mut self,
        sql: &str,
        result: Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        if result.is_err() {
            self.broken = true;
        } else if !sql.starts_with("SELECT") {
            self.wrote = true;
        }
        result
    }

    /// Runs `sql`, prepared once per connection, through `run`, noting what it did.
    fn run<T>(
        &mut self,
        sql: &str,
        run: impl FnOnce(&mut Client, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let s = self.statement(sql)?;
        let result = run(self.client, &s);
        self.noted(sql, result)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        self.run(sql, |c, s| c.query(s, params))
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        self.run(sql, |c, s| c.query_opt(s, params))
    }

    fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        self.run(sql, |c, s| c.query_one(s, params))
    }

    /// A statement that changed no row wrote nothing (a compare-and-set that lost).
    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        let result = self.client.execute(&s, params);
        match result {
            Ok(0) => Ok(0),
            other => self.noted(sql, other),
        }
    }

    /// The operation's update after an exchange, with the writes that go with it as
    /// data-modifying CTEs: the order's upsert, the reply, the shop's compare-and-set. One
    /// round trip where there were up to four. The CTEs touch four different tables, so sharing
    /// one snapshot changes nothing they see. Whether the shop's record was written.
    fn write_after(
        &mut self,
        order: Option<&OrderRecord>,
        op: &OperationRecord,
        lease_until: Option<i64>,
        last: Option<(ExchangeId, &ReplyRecord)>,
        shop: Option<&ShopRow>,
        now_ms: i64,
    ) -> Result<bool, JournalError> {
        if order.is_none() && last.is_none() && shop.is_none() {
            self.update_op(op, lease_until)?;
            return Ok(false);
        }
        let mut q = Params::default();
        let mut ctes = Vec::new();
        if let Some(o) = order {
            ctes.push(format!(
                "o AS ({} RETURNING 1)",
                order_upsert(&mut q, o, now_ms)
            ));
        }
        let replied = match last {
            Some((x, reply)) => {
                ctes.push(format!(
                    "r AS ({} RETURNING 1)",
                    reply_update(&mut q, x, reply, now_ms)
                ));
                "(SELECT count(*) FROM r)"
            }
            None => "1::bigint",
        };
        let saved = match shop {
            Some(row) => {
                ctes.push(format!("s AS ({} RETURNING 1)", shop_write(&mut q, row)));
                "(SELECT count(*) FROM s)"
            }
            None => "0::bigint",
        };
        let updated = q.add(op.updated_at_ms);
        let sql = format!(
            "WITH {} UPDATE operations SET status = {}, attempt = {}, outcome = {}, \
             evidence = {}, amount = {}, currency = {}, updated_at = {updated}, \
             lease_until = coalesce({}::bigint - {updated}::bigint + {DB_NOW_MS}, lease_until), \
             owner = {} WHERE id = {} RETURNING {replied}, {saved}",
            ctes.join(", "),
            q.add(op.status.name().to_owned()),
            q.add(op.attempt as i64),
            q.add(op.outcome.as_ref().map(codec::outcome_json)),
            q.add(op.evidence.clone()),
            q.add(op.amount.map(|a| a.minor_units)),
            q.add(op.amount.map(|a| a.currency.as_str().to_owned())),
            q.add(lease_until),
            q.add(op.owner.clone()),
            q.add(op.id.0),
        );
        let row = self
            .query_opt(&sql, &q.refs())
            .map_err(storage)?
            .ok_or(JournalError::UnknownOperation(op.id))?;
        if row.get::<_, i64>(0) != 1 {
            let x = last.map_or(0, |(x, _)| x.0);
            return Err(JournalError::Corrupt(format!(
                "exchange {x} is unknown or already has a reply"
            )));
        }
        Ok(row.get::<_, i64>(1) == 1)
    }

    fn ops(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<OperationRecord>, JournalError> {
        self.query(sql, params)
            .map_err(storage)?
            .iter()
            .map(|r| op_row(r).into_record())
            .collect()
    }

    fn drifts(
        &mut self,
        condition: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<DriftRecord>, JournalError> {
        self.query(
            &format!("SELECT {DRIFT_COLUMNS} FROM drift_events WHERE {condition} ORDER BY id"),
            params,
        )
        .map_err(storage)?
        .iter()
        .map(|r| drift_row(r).into_record())
        .collect()
    }
}

impl Tx for PgTx<'_> {
    /// Tries the order's lock and never waits for it: a transaction that waited here would
    /// hold the locks of every other call in it, and two hosts' transactions could each wait for
    /// the other. A lock another host holds makes the call run again once this transaction has
    /// committed ([`Call::Busy`]).
    fn lock_order(&mut self, order: &str) -> Result<(), JournalError> {
        let got: bool = self
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 727274))",
                &[&order],
            )
            .map_err(storage)?
            .get(0);
        if got {
            Ok(())
        } else {
            self.busy = true;
            Err(JournalError::Storage(format!(
                "order {order} is locked by another host's transaction"
            )))
        }
    }

    /// The lock of the operation's order, found and taken in one statement.
    fn lock_operation(&mut self, op: OperationId) -> Result<(), JournalError> {
        let row = self
            .query_opt(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(order_ref, 727274)) \
                 FROM operations WHERE id = $1",
                &[&op.0],
            )
            .map_err(storage)?;
        match row {
            None => Err(JournalError::UnknownOperation(op)),
            Some(r) if r.get::<_, bool>(0) => Ok(()),
            Some(_) => {
                self.busy = true;
                Err(JournalError::Storage(format!(
                    "operation {}'s order is locked by another host's transaction",
                    op.0
                )))
            }
        }
    }

    fn load_order(&mut self, order: &str) -> Result<Option<OrderRecord>, JournalError> {
        let row = self
            .query_opt(
                "SELECT order_ref, gateway, transaction_ref, state, gateway_status, currency, \
                 authorized, captured, refunded, review, version, handle, authorized_at, \
                 captured_at FROM orders \
                 WHERE order_ref = $1",
                &[&order],
            )
            .map_err(storage)?;
        match row {
            Some(r) => order_at(&r, 0),
            None => Ok(None),
        }
    }

    fn save_order(&mut self, o: &OrderRecord, now_ms: i64) -> Result<(), JournalError> {
        let mut q = Params::default();
        let sql = order_upsert(&mut q, o, now_ms);
        self.execute(&sql, &q.refs()).map_err(storage)?;
        Ok(())
    }

    fn op_by_key(&mut self, key: &str) -> Result<Option<OperationRecord>, JournalError> {
        Ok(self
            .ops(
                &format!("SELECT {OP_COLUMNS} FROM operations WHERE idempotency_key = $1"),
                &[&key],
            )?
            .into_iter()
            .next())
    }

    fn op_by_id(&mut self, id: OperationId) -> Result<Option<OperationRecord>, JournalError> {
        Ok(self
            .ops(
                &format!("SELECT {OP_COLUMNS} FROM operations WHERE id = $1"),
                &[&id.0],
            )?
            .into_iter()
            .next())
    }

    fn active_op(&mut self, order: &str) -> Result<Option<OperationRecord>, JournalError> {
        Ok(self
            .ops(
                &format!(
                    "SELECT {OP_COLUMNS} FROM operations \
                     WHERE order_ref = $1 AND status IN ('pending', 'unknown')"
                ),
                &[&order],
            )?
            .into_iter()
            .next())
    }

    fn op_by_key_and_active(
        &mut self,
        key: &str,
        order: &str,
    ) -> Result<(Option<OperationRecord>, Option<OperationRecord>), JournalError> {
        let ops = self.ops(
            &format!(
                "SELECT {OP_COLUMNS} FROM operations WHERE idempotency_key = $1 \
                 OR (order_ref = $2 AND status IN ('pending', 'unknown'))"
            ),
            &[&key, &order],
        )?;
        let by_key = ops.iter().find(|o| o.idempotency_key == key).cloned();
        let active = ops
            .into_iter()
            .find(|o| o.order.as_str() == order && o.status.is_active());
        Ok((by_key, active))
    }

    fn insert_op_sending(
        &mut self,
        op: &NewOperation,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
        x: &SentExchange,
    ) -> Result<(OperationRecord, ExchangeId), JournalError> {
        let rows = self
            .query(
                &format!(
                    "WITH o AS (INSERT INTO operations (order_ref, gateway, kind, amount, \
                     currency, idempotency_key, plugin_id, plugin_version, status, attempt, \
                     lease_until, created_at, updated_at, owner, intent) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, \
                     $9::bigint - $10::bigint + {DB_NOW_MS}, $10, $10, $11, $12) \
                     RETURNING {OP_COLUMNS}), \
                     x AS (INSERT INTO exchanges (operation_id, step_index, step, method, url, \
                     headers, body, state, sent_at, effect, attempt) \
                     SELECT o.id, $13, $14, $15, $16, $17, $18, $19, $10, $20, $21 FROM o \
                     RETURNING id) \
                     SELECT o.*, x.id FROM o, x"
                ),
                &[
                    &op.order.as_str(),
                    &op.gateway,
                    &codec::kind_name(op.kind),
                    &op.amount.map(|a| a.minor_units),
                    &op.amount.map(|a| a.currency.as_str().to_owned()),
                    &op.idempotency_key,
                    &op.plugin_id,
                    &op.plugin_version,
                    &lease_until,
                    &now_ms,
                    &owner,
                    &op.intent,
                    &(x.step_index as i64),
                    &x.step,
                    &x.method,
                    &x.url,
                    &codec::headers_json(&x.headers),
                    &x.body,
                    &x.state,
                    &x.effect.name(),
                    &(x.attempt as i32),
                ],
            )
            .map_err(storage)?;
        let row = rows
            .first()
            .ok_or_else(|| JournalError::Corrupt("inserted operation not returned".into()))?;
        let exchange = ExchangeId(row.get(17));
        Ok((op_row(row).into_record()?, exchange))
    }

    fn load_op_and_order(
        &mut self,
        id: OperationId,
    ) -> Result<(OperationRecord, Option<OrderRecord>), JournalError> {
        let columns = OP_COLUMNS
            .split(", ")
            .map(|c| format!("op.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = self
            .query_opt(
                &format!(
                    "SELECT {columns}, o.order_ref, o.gateway, o.transaction_ref, o.state, \
                     o.gateway_status, o.currency, o.authorized, o.captured, o.refunded, \
                     o.review, o.version, o.handle, o.authorized_at, o.captured_at \
                     FROM operations op \
                     LEFT JOIN orders o ON o.order_ref = op.order_ref WHERE op.id = $1"
                ),
                &[&id.0],
            )
            .map_err(storage)?
            .ok_or(JournalError::UnknownOperation(id))?;
        let order = order_at(&row, 17)?;
        Ok((op_row(&row).into_record()?, order))
    }

    fn load_shop_and_order(
        &mut self,
        order: &str,
    ) -> Result<(Option<ShopRow>, Option<OrderRecord>), JournalError> {
        let row = self
            .query_one(
                "SELECT s.order_ref, s.shop, s.unpaid, s.data, s.updated_at, s.version, \
                 o.order_ref, o.gateway, o.transaction_ref, o.state, o.gateway_status, \
                 o.currency, o.authorized, o.captured, o.refunded, o.review, o.version, \
                 o.handle, o.authorized_at, o.captured_at FROM (SELECT $1::text AS k) q \
                 LEFT JOIN shop_orders s ON s.order_ref = q.k \
                 LEFT JOIN orders o ON o.order_ref = q.k",
                &[&order],
            )
            .map_err(storage)?;
        let shop = row.get::<_, Option<String>>(0).map(|order_ref| ShopRow {
            order: renkei_sdk::OrderRef::new(order_ref),
            shop: row.get(1),
            unpaid: row.get(2),
            data: row.get(3),
            updated_ms: row.get(4),
            version: row.get(5),
        });
        let journal = order_at(&row, 6)?;
        Ok((shop, journal))
    }

    fn insert_op(
        &mut self,
        op: &NewOperation,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
    ) -> Result<OperationRecord, JournalError> {
        let rows = self.ops(
            &format!(
                "INSERT INTO operations (order_ref, gateway, kind, amount, currency, \
                 idempotency_key, plugin_id, plugin_version, status, attempt, lease_until, \
                 created_at, updated_at, owner, intent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, \
                 $9::bigint - $10::bigint + {DB_NOW_MS}, $10, $10, $11, $12) \
                 RETURNING {OP_COLUMNS}"
            ),
            &[
                &op.order.as_str(),
                &op.gateway,
                &codec::kind_name(op.kind),
                &op.amount.map(|a| a.minor_units),
                &op.amount.map(|a| a.currency.as_str().to_owned()),
                &op.idempotency_key,
                &op.plugin_id,
                &op.plugin_version,
                &lease_until,
                &now_ms,
                &owner,
                &op.intent,
            ],
        )?;
        rows.into_iter()
            .next()
            .ok_or_else(|| JournalError::Corrupt("inserted operation not returned".into()))
    }

    /// The reply and the operation in one statement (see [`PgTx::write_after`]).
    fn update_op_after(
        &mut self,
        op: &OperationRecord,
        lease_until: Option<i64>,
        last: Option<(ExchangeId, &ReplyRecord)>,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.write_after(None, op, lease_until, last, None, now_ms)
            .map(|_| ())
    }

    fn write_success(
        &mut self,
        order: Option<&OrderRecord>,
        op: &OperationRecord,
        last: Option<(ExchangeId, &ReplyRecord)>,
        shop: Option<&ShopRow>,
        now_ms: i64,
    ) -> Result<bool, JournalError> {
        self.write_after(order, op, None, last, shop, now_ms)
    }

    fn update_op(
        &mut self,
        op: &OperationRecord,
        lease_until: Option<i64>,
    ) -> Result<(), JournalError> {
        self.execute(
                &format!(
                    "UPDATE operations SET status = $2, attempt = $3, outcome = $4, \
                     evidence = $5, amount = $6, currency = $7, updated_at = $8, \
                     lease_until = coalesce($9::bigint - $8::bigint + {DB_NOW_MS}, lease_until), owner = $10 \
                     WHERE id = $1"
                ),
                &[
                    &op.id.0,
                    &op.status.name(),
                    &(op.attempt as i64),
                    &op.outcome.as_ref().map(codec::outcome_json),
                    &op.evidence,
                    &op.amount.map(|a| a.minor_units),
                    &op.amount.map(|a| a.currency.as_str().to_owned()),
                    &op.updated_at_ms,
                    &lease_until,
                    &op.owner,
                ],
            )
            .map_err(storage)?;
        Ok(())
    }

    fn insert_exchange(
        &mut self,
        op: OperationId,
        x: &SentExchange,
        now_ms: i64,
    ) -> Result<ExchangeId, JournalError> {
        let row = self
            .query_one(
                "INSERT INTO exchanges (operation_id, step_index, step, method, url, headers, \
                 body, state, sent_at, effect, attempt) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &[
                    &op.0,
                    &(x.step_index as i64),
                    &x.step,
                    &x.method,
                    &x.url,
                    &codec::headers_json(&x.headers),
                    &x.body,
                    &x.state,
                    &now_ms,
                    &x.effect.name(),
                    &(x.attempt as i32),
                ],
            )
            .map_err(storage)?;
        Ok(ExchangeId(row.get(0)))
    }

    fn set_reply(
        &mut self,
        x: ExchangeId,
        reply: &ReplyRecord,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        let mut q = Params::default();
        let sql = reply_update(&mut q, x, reply, now_ms);
        let n = self.execute(&sql, &q.refs()).map_err(storage)?;
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
        // SKIP LOCKED + the lease update: two recovering hosts never claim the same operation.
        self.ops(
            &format!(
                "UPDATE operations SET lease_until = $2::bigint - $1::bigint + {DB_NOW_MS}, owner = $3 \
                 WHERE id IN ( \
                   SELECT id FROM operations WHERE status IN ('pending', 'unknown') \
                   AND coalesce(lease_until, 0) < {DB_NOW_MS} \
                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING {OP_COLUMNS}"
            ),
            &[&now_ms, &lease_until, &owner],
        )
        .map(|mut v| {
            v.sort_by_key(|o| o.id);
            v
        })
    }

    fn ops_for_order(&mut self, order: &str) -> Result<Vec<OperationRecord>, JournalError> {
        self.ops(
            &format!("SELECT {OP_COLUMNS} FROM operations WHERE order_ref = $1 ORDER BY id"),
            &[&order],
        )
    }

    fn exchanges_for_op(&mut self, op: OperationId) -> Result<Vec<ExchangeRecord>, JournalError> {
        self.query(
            "SELECT id, operation_id, step_index, step, method, url, headers, body, state, \
                 sent_at, reply_status, reply_body, transport_error, effect, attempt \
                 FROM exchanges WHERE operation_id = $1 ORDER BY step_index",
            &[&op.0],
        )
        .map_err(storage)?
        .iter()
        .map(|r| {
            ExchangeRow {
                id: r.get(0),
                operation_id: r.get(1),
                step_index: r.get(2),
                step: r.get(3),
                method: r.get(4),
                url: r.get(5),
                headers: r.get(6),
                body: r.get(7),
                state: r.get(8),
                sent_at: r.get(9),
                reply_status: r.get(10),
                reply_body: r.get(11),
                transport_error: r.get(12),
                effect: r.get(13),
                attempt: i64::from(r.get::<_, i32>(14)),
            }
            .into_record()
        })
        .collect()
    }

    fn save_shop_row(&mut self, row: &ShopRow) -> Result<bool, JournalError> {
        let mut q = Params::default();
        let sql = shop_write(&mut q, row);
        let n = self.execute(&sql, &q.refs()).map_err(storage)?;
        Ok(n == 1)
    }

    fn insert_drift(&mut self, d: &NewDrift, now_ms: i64) -> Result<DriftRecord, JournalError> {
        let row = self
            .query_one(
                &format!(
                    "INSERT INTO drift_events (order_ref, gateway, kind, detail, journal_state, \
                     gateway_state, gateway_status, found_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {DRIFT_COLUMNS}"
                ),
                &[
                    &d.order.as_str(),
                    &d.gateway,
                    &d.kind,
                    &d.detail,
                    &codec::state_json(&d.journal_state),
                    &codec::state_json(&d.gateway_state),
                    &d.gateway_status,
                    &now_ms,
                ],
            )
            .map_err(storage)?;
        drift_row(&row).into_record()
    }

    fn open_drift(&mut self, order: &str, kind: &str) -> Result<Option<DriftRecord>, JournalError> {
        self.drifts(
            "order_ref = $1 AND kind = $2 AND resolution IS NULL",
            &[&order, &kind],
        )
        .map(|v| v.into_iter().next())
    }

    fn drift_by_id(&mut self, id: DriftId) -> Result<Option<DriftRecord>, JournalError> {
        self.drifts("id = $1", &[&id.0])
            .map(|v| v.into_iter().next())
    }

    fn list_drifts(&mut self, open_only: bool) -> Result<Vec<DriftRecord>, JournalError> {
        self.drifts("resolution IS NULL OR NOT $1", &[&open_only])
    }

    fn close_drift(
        &mut self,
        id: DriftId,
        action: &str,
        operator: &str,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.execute(
            "UPDATE drift_events SET resolution = $2, operator = $3, resolved_at = $4 \
                 WHERE id = $1",
            &[&id.0, &action, &operator, &now_ms],
        )
        .map_err(storage)?;
        Ok(())
    }

    fn ops_with_status(
        &mut self,
        status: OperationStatus,
    ) -> Result<Vec<OperationRecord>, JournalError> {
        self.ops(
            &format!("SELECT {OP_COLUMNS} FROM operations WHERE status = $1 ORDER BY id"),
            &[&status.name()],
        )
    }

    fn load_shop_row(&mut self, order: &str) -> Result<Option<ShopRow>, JournalError> {
        Ok(self
            .query_opt(
                "SELECT order_ref, shop, unpaid, data, updated_at, version FROM shop_orders \
                 WHERE order_ref = $1",
                &[&order],
            )
            .map_err(storage)?
            .map(|r| shop_row(&r)))
    }

    fn list_shop_rows(
        &mut self,
        shop: &str,
        unpaid_only: bool,
    ) -> Result<Vec<ShopRow>, JournalError> {
        Ok(self
            .query(
                "SELECT order_ref, shop, unpaid, data, updated_at, version FROM shop_orders \
                 WHERE shop = $1 AND (unpaid OR NOT $2) ORDER BY order_ref",
                &[&shop, &unpaid_only],
            )
            .map_err(storage)?
            .iter()
            .map(shop_row)
            .collect())
    }
}

/// A reply as its columns: status and body, or the transport's error.
/// The order's upsert, its values added to `q`.
fn order_upsert(q: &mut Params, o: &OrderRecord, now_ms: i64) -> String {
    format!(
        "INSERT INTO orders (order_ref, gateway, transaction_ref, state, gateway_status, \
         currency, authorized, captured, refunded, review, version, updated_at, handle, \
         authorized_at, captured_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) \
         ON CONFLICT (order_ref) DO UPDATE SET gateway = excluded.gateway, \
         transaction_ref = excluded.transaction_ref, state = excluded.state, \
         gateway_status = excluded.gateway_status, currency = excluded.currency, \
         authorized = excluded.authorized, captured = excluded.captured, \
         refunded = excluded.refunded, review = excluded.review, \
         version = excluded.version, updated_at = excluded.updated_at, \
         handle = excluded.handle, authorized_at = excluded.authorized_at, \
         captured_at = excluded.captured_at",
        q.add(o.order.as_str().to_owned()),
        q.add(o.gateway.clone()),
        q.add(o.transaction.as_ref().map(|t| t.as_str().to_owned())),
        q.add(codec::state_json(&o.state)),
        q.add(o.gateway_status.clone()),
        q.add(o.authorized.currency.as_str().to_owned()),
        q.add(o.authorized.minor_units),
        q.add(o.captured.minor_units),
        q.add(o.refunded.minor_units),
        q.add(o.review.clone()),
        q.add(o.version),
        q.add(now_ms),
        q.add(o.handle.as_ref().map(codec::handle_json)),
        q.add(o.authorized_at_ms),
        q.add(o.captured_at_ms),
    )
}

/// The reply of exchange `x`, written only while it has none; its values added to `q`.
fn reply_update(q: &mut Params, x: ExchangeId, reply: &ReplyRecord, now_ms: i64) -> String {
    let (status, body, error) = reply_columns(reply);
    format!(
        "UPDATE exchanges SET reply_status = {}, reply_body = {}, transport_error = {}, \
         replied_at = {} WHERE id = {} AND replied_at IS NULL",
        q.add(status),
        q.add(body.map(<[u8]>::to_vec)),
        q.add(error.map(str::to_owned)),
        q.add(now_ms),
        q.add(x.0),
    )
}

/// The shop's row at `row.version + 1`, if the stored row is at `row.version` (0: absent);
/// its values added to `q`.
fn shop_write(q: &mut Params, row: &ShopRow) -> String {
    let order_ref = q.add(row.order.as_str().to_owned());
    let shop = q.add(row.shop.clone());
    let unpaid = q.add(row.unpaid);
    let data = q.add(row.data.clone());
    let updated = q.add(row.updated_ms);
    let version = q.add(row.version);
    if row.version == 0 {
        format!(
            "INSERT INTO shop_orders (order_ref, shop, unpaid, data, updated_at, version) \
             VALUES ({order_ref}, {shop}, {unpaid}, {data}, {updated}, {version}::bigint + 1) \
             ON CONFLICT (order_ref) DO NOTHING"
        )
    } else {
        format!(
            "UPDATE shop_orders SET shop = {shop}, unpaid = {unpaid}, data = {data}, \
             updated_at = {updated}, version = {version}::bigint + 1 \
             WHERE order_ref = {order_ref} AND version = {version}::bigint"
        )
    }
}

/// A statement's parameters, numbered as they are added: for SQL assembled from optional
/// parts, where fixed `$n` would shift with every part left out.
#[derive(Default)]
struct Params(Vec<Box<dyn postgres::types::ToSql + Sync>>);

impl Params {
    /// Adds `value`; its placeholder.
    fn add(&mut self, value: impl postgres::types::ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(value));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        self.0.iter().map(|p| p.as_ref()).collect()
    }
}

fn reply_columns(reply: &ReplyRecord) -> (Option<i64>, Option<&[u8]>, Option<&str>) {
    match reply {
        ReplyRecord::Reply { status, body } => (Some(*status as i64), Some(body), None),
        ReplyRecord::NoReply { error } => (None, None, Some(error)),
    }
}

/// The order's columns from `at` on (the order of `load_order`'s SELECT), or `None` where a
/// LEFT JOIN found no order.
fn order_at(r: &Row, at: usize) -> Result<Option<OrderRecord>, JournalError> {
    r.get::<_, Option<String>>(at)
        .map(|order_ref| {
            OrderRow {
                order_ref,
                gateway: r.get(at + 1),
                transaction_ref: r.get(at + 2),
                state: r.get(at + 3),
                gateway_status: r.get(at + 4),
                currency: r.get(at + 5),
                authorized: r.get(at + 6),
                captured: r.get(at + 7),
                refunded: r.get(at + 8),
                review: r.get(at + 9),
                version: r.get(at + 10),
                handle: r.get(at + 11),
                authorized_at: r.get(at + 12),
                captured_at: r.get(at + 13),
            }
            .into_record()
        })
        .transpose()
}

fn shop_row(r: &Row) -> ShopRow {
    ShopRow {
        order: renkei_sdk::OrderRef::new(r.get::<_, String>(0)),
        shop: r.get(1),
        unpaid: r.get(2),
        data: r.get(3),
        updated_ms: r.get(4),
        version: r.get(5),
    }
}

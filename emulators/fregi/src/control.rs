//! The control surface under `/__emulator__/` (`docs/protocols/fregi.md` §11.9), outside every F-REGI path so no
//! client can reach it by accident, and the admin-screen actions (rules G-8, F-5).
//!
//! Reads are `GET`, changes `POST`. Parameters come from the query string and/or a form body;
//! faults and tokens also accept a JSON body. Answers are JSON, except `info`, which answers in
//! F-REGI's own line format because it stands in for a card inquiry API (`docs/protocols/fregi.md` §10.3).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock::{jst_string, parse_time};
use crate::codes::{Ng, catalogue};
use crate::config::TestToken;
use crate::faults::{Fault, FaultId};
use crate::ops::{self, Ctx};
use crate::reply::Response;
use crate::server::{api_response, is_form};
use crate::state::{Environment, Origin, Shared, Transaction};
use crate::status::STATUSES;
use crate::wire::{Params, decode_form};
use renkei_emulator_kit::Collected as Request;

/// An operation made in F-REGI's own management screen. The shop's system is never told about
/// it (rule G-8); it must find out by inquiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// 承認金額変更 (`SHOPID`, `SEQNO`, `PAY`): a new authorization replaces the old one, which
    /// becomes 承認取消, so a later sale from the shop on the old `SEQNO` is refused (rule F-5).
    ChangeAmount,
    /// 売上請求 (`SHOPID`, `SEQNO`): capture, as `sale.cgi`.
    Sale,
    /// 取消 (`SHOPID`, `SEQNO`): authorization cancel before the sale, sale cancel after.
    Cancel,
    /// 売上金額変更 (`SHOPID`, `SEQNO`, `PAY`): as `salechange.cgi`.
    SaleChange,
    /// 予約 (`authm`'s parameters): a reserved order, validity-checked, not authorized (`40`).
    Reserve,
    /// 通常処理へ (`SHOPID`, `SEQNO`): authorize a reservation: `10`, or `41` if declined.
    Release,
}

impl AdminAction {
    fn from_route(route: &str) -> Option<AdminAction> {
        Some(match route {
            "change_amount" => AdminAction::ChangeAmount,
            "sale" => AdminAction::Sale,
            "cancel" => AdminAction::Cancel,
            "sale_change" => AdminAction::SaleChange,
            "reserve" => AdminAction::Reserve,
            "release" => AdminAction::Release,
            _ => return None,
        })
    }
}

/// Result of an admin action: the transaction it produced or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOutcome {
    /// `SEQNO` of the resulting transaction (the new one after an amount change).
    pub seqno: String,
    /// Its `AUTHCODE` (empty for a reservation).
    pub authcode: String,
    /// The transaction as it now stands.
    pub transaction: Transaction,
}

/// Runs an admin action with `params` in F-REGI's parameter names. Refusals carry the code the
/// equivalent script would give; a declined release is an error although it moved the
/// reservation to `41`.
pub(crate) fn admin(
    shared: &Shared,
    action: AdminAction,
    env: Environment,
    params: &Params,
) -> Result<AdminOutcome, Ng> {
    shared.with_ledger(|ledger, config| {
        let mut ctx = Ctx {
            ledger,
            config,
            env,
            origin: Origin::Admin,
        };
        let seqno = match action {
            AdminAction::ChangeAmount => ops::authchange(params, &mut ctx)?.0,
            AdminAction::Sale => ops::sale(params, &mut ctx)?,
            AdminAction::Cancel => ops::admin_cancel(params, &mut ctx)?,
            AdminAction::SaleChange => ops::salechange(params, &mut ctx)?.0,
            AdminAction::Reserve => ops::reserve(params, &mut ctx)?,
            AdminAction::Release => ops::release(params, &mut ctx)?.0,
        };
        let transaction = ctx
            .ledger
            .record_any(seqno)
            .map(Transaction::from)
            .ok_or_else(|| Ng::custom("X1-1-120", "照会時の指定された取引は存在しません"))?;
        Ok(AdminOutcome {
            seqno: transaction.seqno.clone(),
            authcode: transaction.authcode.clone(),
            transaction,
        })
    })
}

/// Serves `/__emulator__/<route>`.
pub(crate) fn handle(shared: &Shared, request: &Request, route: &str) -> Response {
    let params = control_params(request);
    let env = if params.get("ENV") == Some("test") {
        Environment::Test
    } else {
        Environment::Production
    };
    let method = request.method.as_str();
    match (method, route) {
        ("GET" | "POST", "info") => api_response(shared, env, |ctx| ops::inquiry(&params, ctx)),
        ("POST", "batch") => {
            let report = shared.with_ledger(|ledger, config| {
                let now = ledger.now();
                ledger.run_batch(config, now)
            });
            Response::json(200, &report)
        }
        ("GET", "clock") => clock_response(shared),
        ("POST", "clock") => {
            let set = params
                .get("set")
                .map(|t| parse_time(t).ok_or("`set` is not Unix seconds or YYYY-MM-DDTHH:MM:SS"));
            let advance = params
                .get("advance")
                .map(|s| s.parse::<i64>().map_err(|_| "`advance` is not seconds"));
            match (set.transpose(), advance.transpose()) {
                (Err(why), _) | (_, Err(why)) => bad_request(why),
                (Ok(None), Ok(None)) => bad_request("send `set` or `advance`"),
                (Ok(set), Ok(advance)) => {
                    shared.with_ledger(|ledger, config| {
                        if let Some(t) = set {
                            ledger.set_clock(config, t);
                        }
                        if let Some(seconds) = advance {
                            ledger.clock.advance(seconds);
                        }
                    });
                    clock_response(shared)
                }
            }
        }
        ("GET", "faults") => Response::json(200, &shared.faults.list()),
        ("POST", "faults") => match parse_fault(request, &params) {
            Ok(fault) => Response::json(200, &json!({ "id": shared.faults.install(fault) })),
            Err(why) => bad_request(&why),
        },
        ("DELETE", "faults") | ("POST", "faults/clear") => {
            shared.faults.clear();
            ok()
        }
        ("DELETE", route) if route.starts_with("faults/") => {
            let removed = route["faults/".len()..]
                .parse()
                .is_ok_and(|id| shared.faults.remove(FaultId(id)));
            if removed {
                ok()
            } else {
                Response::json(404, &json!({ "error": "no such fault" }))
            }
        }
        ("POST", "reset") => {
            shared.reset();
            ok()
        }
        ("GET", "dump") => Response::json(200, &shared.dump()),
        ("POST", "tokens") => match parse_body::<TestToken>(
            request,
            &params,
            &["exp_month", "exp_year"],
            &["expired"],
        ) {
            Ok(token) => {
                shared.with_ledger(|ledger, _| ledger.tokens.insert(token.token.clone(), token));
                ok()
            }
            Err(why) => bad_request(&why),
        },
        ("GET", "statuses") => Response::json(200, &STATUSES),
        ("GET", "codes") => Response::json(200, &catalogue()),
        ("POST", route) if route.starts_with("admin/") => {
            match AdminAction::from_route(&route["admin/".len()..]) {
                Some(action) => match admin(shared, action, env, &params) {
                    Ok(outcome) => Response::json(200, &json!({ "ok": true, "outcome": outcome })),
                    Err(ng) => Response::json(
                        422,
                        &json!({ "ok": false, "code": ng.code, "message": ng.message, "reason": ng.line() }),
                    ),
                },
                None => not_found(),
            }
        }
        ("GET" | "POST" | "DELETE", _) => not_found(),
        _ => Response::json(405, &json!({ "error": "method not allowed" })),
    }
}

/// Query string first, then a form body.
fn control_params(request: &Request) -> Params {
    let mut params = decode_form(request.query.as_bytes());
    if is_form(request.content_type.as_deref()) {
        params.extend(decode_form(&request.body));
    }
    params
}

/// A fault rule: the JSON shared with the SBPS emulator (`{"fault": {"kind": ...}, "match":
/// {...}, "lifetime": ...}`), or, for `curl -d`, the same fields as flat form parameters: the
/// kind's (`kind`, `millis`, `status`, `code`, `after_bytes`), the matcher's (`script`, `seqno`,
/// `id`) and the lifetime (`times=n` or `persistent=1`).
fn parse_fault(request: &Request, params: &Params) -> Result<Fault, String> {
    if is_json(request) {
        return serde_json::from_slice(&request.body).map_err(|e| e.to_string());
    }
    let mut kind = Map::new();
    let mut matcher = Map::new();
    let mut lifetime = json!({ "times": 1 });
    for (key, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        let number = || {
            value
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| format!("`{key}` must be a number"))
        };
        match key {
            "kind" | "code" => {
                kind.entry(key).or_insert_with(|| Value::from(value));
            }
            "millis" | "status" | "after_bytes" => {
                let number = number()?;
                kind.entry(key).or_insert(number);
            }
            "script" | "seqno" | "id" => {
                matcher.entry(key).or_insert_with(|| Value::from(value));
            }
            "times" => lifetime = json!({ "times": number()? }),
            "persistent" if matches!(value, "1" | "true") => lifetime = json!("persistent"),
            "persistent" => {}
            _ => return Err(format!("unknown fault parameter `{key}`")),
        }
    }
    let rule = json!({ "fault": kind, "match": matcher, "lifetime": lifetime });
    serde_json::from_value(rule).map_err(|e| e.to_string())
}

fn is_json(request: &Request) -> bool {
    request
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

/// A JSON body, or form/query parameters turned into the same JSON object (`numbers` and
/// `flags` name the fields that are not strings).
fn parse_body<T: serde::de::DeserializeOwned>(
    request: &Request,
    params: &Params,
    numbers: &[&str],
    flags: &[&str],
) -> Result<T, String> {
    if is_json(request) {
        return serde_json::from_slice(&request.body).map_err(|e| e.to_string());
    }
    let mut object = Map::new();
    for (key, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        let value = if numbers.contains(&key) {
            Value::from(
                value
                    .parse::<u64>()
                    .map_err(|_| format!("`{key}` must be a number"))?,
            )
        } else if flags.contains(&key) {
            Value::Bool(matches!(value, "1" | "true"))
        } else {
            Value::from(value)
        };
        object.entry(key.to_owned()).or_insert(value);
    }
    serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())
}

fn clock_response(shared: &Shared) -> Response {
    let now = shared.with_ledger(|ledger, _| ledger.now());
    Response::json(200, &json!({ "now": now, "now_jst": jst_string(now) }))
}

fn ok() -> Response {
    Response::json(200, &json!({ "ok": true }))
}

fn bad_request(why: &str) -> Response {
    Response::json(400, &json!({ "error": why }))
}

fn not_found() -> Response {
    Response::json(404, &json!({ "error": "unknown control endpoint" }))
}

//! The control surface under `/__emulator__/` (§11.8), outside every GMO-PG path so no client
//! reaches it by accident: the book, the clock, faults, tokens, and GMO-PG's management-screen
//! actions. Reads are `GET`, changes `POST`/`DELETE`; parameters come from the query string
//! and/or a form body (UTF-8), faults and tokens also from a JSON body; answers are JSON.

use renkei_emulator_kit::hyper::StatusCode;
use renkei_emulator_kit::{Collected as Request, HttpResponse, json, json_error};
use serde_json::{Map, Value, json as j};

use crate::clock::{jst_string, parse_time};
use crate::codes::catalogue;
use crate::config::TestToken;
use crate::faults::{Fault, FaultId};
use crate::ops::{self, AdminAction, Ctx};
use crate::state::{Origin, Shared, Transaction};

/// Serves `/__emulator__/<route>`.
pub(crate) fn handle(shared: &Shared, request: &Request, route: &str) -> HttpResponse {
    let params = control_params(request);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let route = route.trim_end_matches('/');
    match (request.method.as_str(), route) {
        ("GET", "") => json(
            StatusCode::OK,
            &j!({
                "emulator": "gmopg",
                "routes": ["dump", "book", "transactions", "transactions/{order_id}", "clock",
                           "faults", "faults/{id}", "faults/clear", "tokens", "codes", "reset",
                           "admin/capture", "admin/cancel", "admin/change_amount"],
            }),
        ),
        ("GET", "dump") => json(StatusCode::OK, &shared.dump()),
        ("GET", "book") => json(StatusCode::OK, &shared.book()),
        ("GET", "transactions") => json(
            StatusCode::OK,
            &shared.with_ledger(|ledger, _| ledger.transactions()),
        ),
        ("GET", route) if route.starts_with("transactions/") => {
            let order = &route["transactions/".len()..];
            let found: Vec<Transaction> = shared.with_ledger(|ledger, _| {
                ledger
                    .transactions()
                    .into_iter()
                    .filter(|t| t.order_id == order)
                    .collect()
            });
            match found.into_iter().next() {
                Some(t) => json(StatusCode::OK, &t),
                None => json_error(StatusCode::NOT_FOUND, "no such order"),
            }
        }
        ("POST", "reset") => {
            shared.reset();
            ok()
        }
        ("GET", "clock") => clock(shared),
        ("POST", "clock") => {
            let set = get("set").map(|t| {
                parse_time(t).ok_or("`set` is not Unix seconds or YYYY-MM-DDTHH:MM:SS (JST)")
            });
            let advance =
                get("advance").map(|s| s.parse::<i64>().map_err(|_| "`advance` is not seconds"));
            match (set.transpose(), advance.transpose()) {
                (Err(why), _) | (_, Err(why)) => json_error(StatusCode::BAD_REQUEST, why),
                (Ok(None), Ok(None)) => {
                    json_error(StatusCode::BAD_REQUEST, "send `set` or `advance`")
                }
                (Ok(set), Ok(advance)) => {
                    shared.with_ledger(|ledger, _| {
                        if let Some(t) = set {
                            ledger.clock.set(t);
                        }
                        if let Some(seconds) = advance {
                            ledger.clock.advance(seconds);
                        }
                    });
                    clock(shared)
                }
            }
        }
        ("GET", "faults") => json(StatusCode::OK, &shared.faults.list()),
        ("POST", "faults") => match parse_fault(request, &params) {
            Ok(fault) => json(StatusCode::OK, &j!({ "id": shared.faults.install(fault) })),
            Err(why) => json_error(StatusCode::BAD_REQUEST, why),
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
                json_error(StatusCode::NOT_FOUND, "no such fault")
            }
        }
        ("POST", "tokens") => {
            let token: Result<TestToken, String> = if is_json(request) {
                serde_json::from_slice(&request.body).map_err(|e| e.to_string())
            } else {
                let object: Map<String, Value> = params
                    .iter()
                    .filter(|(k, v)| {
                        !v.is_empty() && matches!(k.as_str(), "token" | "card_no" | "expire")
                    })
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())
            };
            match token {
                Ok(token) => {
                    shared.with_ledger(|ledger, _| {
                        ledger.used_tokens.remove(&token.token);
                        ledger.tokens.insert(token.token.clone(), token)
                    });
                    ok()
                }
                Err(why) => json_error(StatusCode::BAD_REQUEST, why),
            }
        }
        ("GET", "codes") => json(StatusCode::OK, &catalogue()),
        ("POST", route) if route.starts_with("admin/") => {
            let Some(action) = AdminAction::from_route(&route["admin/".len()..]) else {
                return json_error(StatusCode::NOT_FOUND, "unknown admin action");
            };
            let Some(order) = get("order_id").or_else(|| get("OrderID")) else {
                return json_error(StatusCode::BAD_REQUEST, "send `order_id`");
            };
            let amount = match get("amount")
                .or_else(|| get("Amount"))
                .map(str::parse::<u64>)
            {
                Some(Err(_)) => {
                    return json_error(StatusCode::BAD_REQUEST, "`amount` is not a number");
                }
                Some(Ok(n)) => Some(n),
                None => None,
            };
            if action == AdminAction::ChangeAmount && amount.is_none() {
                return json_error(StatusCode::BAD_REQUEST, "send `amount`");
            }
            let shop = get("shop_id")
                .or_else(|| get("ShopID"))
                .map(str::to_owned)
                .unwrap_or_else(|| shared.config.shops[0].shop_id.clone());
            let outcome = shared.with_ledger(|ledger, config| {
                let mut ctx = Ctx {
                    ledger,
                    config,
                    origin: Origin::Admin,
                };
                ops::admin(&mut ctx, action, &shop, order, amount)
            });
            match outcome {
                Ok(transaction) => json(
                    StatusCode::OK,
                    &j!({ "ok": true, "transaction": transaction }),
                ),
                Err(error) => json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &j!({ "ok": false, "err_code": error.codes(), "err_info": error.infos, "error": error.line() }),
                ),
            }
        }
        ("GET" | "POST" | "DELETE", _) => {
            json_error(StatusCode::NOT_FOUND, "unknown control endpoint")
        }
        _ => json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

/// Query string, then a form body; UTF-8 (the control surface is the emulator's own).
fn control_params(request: &Request) -> Vec<(String, String)> {
    let mut params = form_pairs(request.query.as_bytes());
    if crate::server::is_form_or_absent(request.content_type.as_deref()) && !is_json(request) {
        params.extend(form_pairs(&request.body));
    }
    params
}

fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(eq) => (&part[..eq], &part[eq + 1..]),
                None => (part, &b""[..]),
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_json(request: &Request) -> bool {
    request
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

/// A fault rule: the kit's JSON, or for `curl -d` the same fields as flat form parameters: the
/// kind's (`kind`, `millis`, `status`, `code`, `after_bytes`), the matcher's (`api`,
/// `order_id`) and the lifetime (`times=n` or `persistent=1`).
fn parse_fault(request: &Request, params: &[(String, String)]) -> Result<Fault, String> {
    if is_json(request) {
        return serde_json::from_slice(&request.body).map_err(|e| e.to_string());
    }
    let mut kind = Map::new();
    let mut matcher = Map::new();
    let mut lifetime = j!({ "times": 1 });
    for (key, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        let number = || {
            value
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| format!("`{key}` must be a number"))
        };
        match key.as_str() {
            "kind" | "code" => {
                kind.entry(key.clone())
                    .or_insert_with(|| Value::from(value.as_str()));
            }
            "millis" | "status" | "after_bytes" => {
                let number = number()?;
                kind.entry(key.clone()).or_insert(number);
            }
            "api" | "order_id" => {
                matcher
                    .entry(key.clone())
                    .or_insert_with(|| Value::from(value.as_str()));
            }
            "times" => lifetime = j!({ "times": number()? }),
            "persistent" if matches!(value.as_str(), "1" | "true") => lifetime = j!("persistent"),
            "persistent" => {}
            _ => return Err(format!("unknown fault parameter `{key}`")),
        }
    }
    serde_json::from_value(j!({ "fault": kind, "match": matcher, "lifetime": lifetime }))
        .map_err(|e| e.to_string())
}

fn clock(shared: &Shared) -> HttpResponse {
    let now = shared.with_ledger(|ledger, _| ledger.now());
    json(
        StatusCode::OK,
        &j!({ "now": now, "now_jst": jst_string(now) }),
    )
}

fn ok() -> HttpResponse {
    json(StatusCode::OK, &j!({ "ok": true }))
}

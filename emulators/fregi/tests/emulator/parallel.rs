//! Concurrency: 1,000 concurrent operations across 100 transactions leave a state consistent with
//! some serial order.

use std::collections::HashMap;

use renkei_emulator_fregi::Status;
use tokio::task::JoinSet;

use crate::support::*;

const TRANSACTIONS: usize = 100;
const PER_TRANSACTION: usize = 10;

async fn authorize_many(client: &Client) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for i in 0..TRANSACTIONS {
        let pay = 1000 + i as u32 * 7;
        out.push((client.authorize(pay).await.1, pay));
    }
    out
}

/// Runs `op(client, SEQNO, round)` `PER_TRANSACTION` times on every transaction, all in flight
/// at once, and returns what each run gave, in completion order.
async fn race<T, Fut>(
    client: &Client,
    txs: &[(String, u32)],
    op: impl Fn(Client, String, usize) -> Fut,
) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    for round in 0..PER_TRANSACTION {
        for (seqno, _) in txs {
            tasks.spawn(op(client.clone(), seqno.clone(), round));
        }
    }
    let mut done = Vec::new();
    while let Some(result) = tasks.join_next().await {
        done.push(result.unwrap());
    }
    done
}

/// Ten concurrent sales per transaction: exactly one succeeds, the other nine are told the
/// transaction is already sold, and the captured total is the authorized total.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn f10_parallel_sales_capture_each_transaction_exactly_once() {
    let (emu, client) = started().await;
    let txs = authorize_many(&client).await;

    let done = race(&client, &txs, |client, seqno, _| async move {
        let reply = client.sale(&seqno).await;
        (seqno, reply.lines)
    })
    .await;
    let mut ok: HashMap<String, usize> = HashMap::new();
    let mut refused: HashMap<String, usize> = HashMap::new();
    for (seqno, lines) in done {
        match lines[0].as_str() {
            "OK" => {
                assert_eq!(lines[1], seqno);
                *ok.entry(seqno).or_default() += 1;
            }
            _ => {
                assert_eq!(
                    lines[1],
                    "S1-1-121(売上処理時の指定された取引は売上受付済みです)"
                );
                *refused.entry(seqno).or_default() += 1;
            }
        }
    }
    for (seqno, _) in &txs {
        assert_eq!(ok.get(seqno), Some(&1), "{seqno} captured exactly once");
        assert_eq!(refused.get(seqno), Some(&(PER_TRANSACTION - 1)));
    }
    let all = emu.transactions();
    assert_eq!(all.len(), TRANSACTIONS);
    assert!(all.iter().all(|t| t.status == Status::SoldPending));
    let captured: u64 = all.iter().map(|t| u64::from(t.amount)).sum();
    let authorized: u64 = txs.iter().map(|(_, pay)| u64::from(*pay)).sum();
    assert_eq!(captured, authorized);
}

/// Sales and authorization cancels racing on the same transactions: whichever wins first, every
/// other answer must be the one a serial execution would give after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g3_parallel_sale_and_cancel_race_is_serialisable() {
    let (emu, client) = started().await;
    let txs = authorize_many(&client).await;

    let done = race(&client, &txs, |client, seqno, i| async move {
        let is_sale = i % 2 == 0;
        let reply = if is_sale {
            client.sale(&seqno).await
        } else {
            client.authcancel(&seqno).await
        };
        (seqno, is_sale, reply.lines)
    })
    .await;
    let mut outcomes: HashMap<String, Vec<(bool, Vec<String>)>> = HashMap::new();
    for (seqno, is_sale, lines) in done {
        outcomes.entry(seqno).or_default().push((is_sale, lines));
    }
    assert_eq!(outcomes.len(), TRANSACTIONS);
    let final_states: HashMap<String, Status> = emu
        .transactions()
        .into_iter()
        .map(|t| (t.seqno, t.status))
        .collect();
    let mut sold_total = 0u64;
    for (seqno, pay) in &txs {
        let results = &outcomes[seqno];
        assert_eq!(results.len(), PER_TRANSACTION);
        let winners: Vec<_> = results
            .iter()
            .filter(|(_, lines)| lines[0] == "OK")
            .collect();
        assert_eq!(winners.len(), 1, "{seqno}: exactly one operation succeeds");
        let sale_won = winners[0].0;
        let expected_final = if sale_won {
            Status::SoldPending
        } else {
            Status::AuthorizationCancelled
        };
        assert_eq!(final_states[seqno], expected_final);
        for (is_sale, lines) in results.iter().filter(|(_, lines)| lines[0] != "OK") {
            let code = &lines[1][..lines[1].find('(').unwrap()];
            let expected = match (sale_won, is_sale) {
                (true, true) => "S1-1-121",
                (true, false) => "A2-1-121",
                (false, true) => "S1-1-122",
                (false, false) => "A2-1-122",
            };
            assert_eq!(code, expected, "{seqno}");
        }
        if sale_won {
            sold_total += u64::from(*pay);
        }
    }
    let captured: u64 = emu
        .transactions()
        .iter()
        .filter(|t| t.status.is_sold())
        .map(|t| u64::from(t.amount))
        .sum();
    assert_eq!(captured, sold_total);
}

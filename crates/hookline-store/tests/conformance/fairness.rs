//! Fair claims: a claim takes the first due delivery of every account before
//! the second of any, so a burst from one account never pushes another's
//! work back; within an account, the most overdue first; accounts the node
//! has no room for are left in the database.

use chrono::Utc;
use hookline_store::*;
use sqlx::Connection;

use crate::harness::*;

/// `n` events of `account`, published one after the other.
async fn burst(s: &SharedStore, account: &str, n: usize) {
    for _ in 0..n {
        publish_new(s, account, "payment.completed").await;
    }
}

fn of<'a>(due: &'a [DueDelivery], account: &str) -> Vec<&'a DueDelivery> {
    due.iter().filter(|d| d.account_id == account).collect()
}

conformance!(a_claim_takes_accounts_in_turn, |t| {
    let s = &t.store;
    let noisy = account(s).await;
    endpoint(s, &noisy, &[]).await;
    burst(s, &noisy, 30).await;
    let quiet = account(s).await;
    endpoint(s, &quiet, &[]).await;
    burst(s, &quiet, 2).await;
    let third = account(s).await;
    endpoint(s, &third, &[]).await;
    burst(s, &third, 1).await;

    // Thirty older noisy deliveries do not keep the others out of a claim of six.
    let due = s.claim_due(&claim(6)).await.unwrap();
    assert_eq!(due.len(), 6);
    assert_eq!(of(&due, &quiet).len(), 2);
    assert_eq!(of(&due, &third).len(), 1);
    assert_eq!(of(&due, &noisy).len(), 3);
    // In turns: each account's first (oldest first), then each one's second, …
    let turns: Vec<_> = due.iter().map(|d| d.account_id.as_str()).collect();
    assert_eq!(
        turns,
        [&noisy, &quiet, &third, &noisy, &quiet, &noisy].map(String::as_str)
    );
    // Within an account, the most overdue first.
    let noisy_times: Vec<_> = of(&due, &noisy)
        .iter()
        .map(|d| d.event_created_at)
        .collect();
    let mut sorted = noisy_times.clone();
    sorted.sort();
    assert_eq!(noisy_times, sorted);

    // The rest of the backlog follows, each delivery once.
    let rest = s.claim_due(&claim(100)).await.unwrap();
    assert_eq!(rest.len(), 27);
    assert!(rest.iter().all(|d| d.account_id == noisy));
    let mut ids: Vec<_> = due.iter().chain(&rest).map(|d| &d.delivery_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 33);
    assert!(s.claim_due(&claim(100)).await.unwrap().is_empty());
});

conformance!(a_claim_leaves_out_skipped_accounts_and_endpoints, |t| {
    let s = &t.store;
    let noisy = account(s).await;
    let busy = endpoint(s, &noisy, &[]).await;
    burst(s, &noisy, 5).await;
    let quiet = account(s).await;
    let calm = endpoint(s, &quiet, &[]).await;
    let other = endpoint(s, &quiet, &[]).await;
    burst(s, &quiet, 1).await;

    let mut request = claim(100);
    request.skip_accounts = vec![noisy.clone(), "acct_unknown".into()];
    request.skip_endpoints = vec![calm.id.clone()];
    let due = s.claim_due(&request).await.unwrap();
    assert_eq!(due.len(), 1, "only the quiet account's other endpoint");
    assert_eq!(due[0].endpoint_id.as_deref(), Some(other.id.as_str()));

    let due = s.claim_due(&claim(100)).await.unwrap();
    assert_eq!(of(&due, &noisy).len(), 5);
    assert!(of(&due, &noisy)
        .iter()
        .all(|d| d.endpoint_id.as_deref() == Some(busy.id.as_str())));
    assert_eq!(of(&due, &quiet).len(), 1);
});

/// A claim reads a bounded number of pages however deep one account's
/// backlog is, on a fresh database without statistics (as after a restore,
/// or with autovacuum off). Left to choose, PostgreSQL once ran the ordering
/// probe for every pending row of an unordered endpoint: a claim of 64 from
/// 2,000 pending read 10.7 M buffers and took 14 s. Counted in buffer hits,
/// which do not depend on the machine's speed.
#[tokio::test]
async fn postgres_a_claim_from_a_backlog_reads_a_bounded_number_of_pages() {
    const BACKLOG: usize = 600;
    let Some(t) = TestStore::postgres().await else {
        return;
    };
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    burst(s, &a, BACKLOG).await;

    let mut conn = sqlx::PgConnection::connect(&t.url)
        .await
        .expect("the schema's URL connects");
    let claim = hookline_store::postgres::PgStore::claim_statement();
    sqlx::raw_sql(&format!(
        "PREPARE claim(bigint, text[], bigint, bigint, text, text[]) AS {claim}"
    ))
    .execute(&mut conn)
    .await
    .expect("the claim prepares");
    let now = Utc::now().timestamp_millis();
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) \
         EXECUTE claim({now}, '{{}}', 64, {}, 'explaining', '{{}}')",
        now + 60_000
    ))
    .fetch_all(&mut conn)
    .await
    .expect("the claim runs under EXPLAIN");
    // The first Buffers line is the whole statement's (a node counts its children).
    let hits: usize = plan
        .iter()
        .find_map(|line| line.split("shared hit=").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no buffer counts in the plan:\n{}", plan.join("\n")));
    assert!(
        hits < 20 * BACKLOG,
        "a claim of 64 from {BACKLOG} pending read {hits} buffers:\n{}",
        plan.join("\n")
    );
    let leased = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM deliveries WHERE leased_by = 'explaining'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(leased, 64);
}

//! Health, metrics and the OpenAPI document.

use crate::both;
use crate::harness::ADMIN;

both!(health_metrics_and_openapi_answer, |s| {
    let health = s.expect(200, "GET", "/health", None, None).await;
    assert_eq!(health["status"], "ok");
    s.expect(401, "GET", "/metrics", None, None).await;
    let (a, key) = s.account("Acme").await;
    s.expect(403, "GET", "/metrics", Some(&key), None).await;
    s.publish(
        &a,
        &key,
        serde_json::json!({"type": "payment.completed", "data": {}}),
    )
    .await;
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "hookline_events_published_total 1",
        "hookline_pending_deliveries",
        "hookline_oldest_pending_delivery_age_seconds",
        "hookline_attempt_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} in:\n{metrics}");
    }
    // The SQLite writer's counters, only where there is one writer.
    let commits = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hookline_sqlite_writer_commits_total "))
        .map(|v| v.trim().parse::<f64>().unwrap());
    if health["database"] == "sqlite" {
        assert!(commits.unwrap() >= 1.0, "commits counted:\n{metrics}");
        for name in [
            "hookline_sqlite_writer_writes_total",
            "hookline_sqlite_writer_busy_seconds_total",
        ] {
            assert!(metrics.contains(name), "{name} in:\n{metrics}");
        }
        // A committed write waited at least as long for durability as for
        // the writer, and some time for both.
        let seconds = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .map(|v| v.trim().parse::<f64>().unwrap())
                .unwrap_or_else(|| panic!("{name} in:\n{metrics}"))
        };
        let queued = seconds("hookline_sqlite_writer_queue_seconds_total");
        let durable = seconds("hookline_sqlite_writer_durable_seconds_total");
        assert!(
            queued >= 0.0 && durable > 0.0 && durable >= queued,
            "queued {queued} s, durable {durable} s"
        );
    } else {
        assert_eq!(commits, None, "no SQLite writer on {}", health["database"]);
    }
    assert!(metrics.trim_end().ends_with("# EOF"));
    let doc = s.expect(200, "GET", "/openapi.json", None, None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/accounts",
        "/v1/accounts/{account_id}/endpoints/{endpoint_id}/secret/rotate",
        "/v1/accounts/{account_id}/events/{event_id}/attempts",
        "/v1/event-types",
        "/health",
        // Payload filters, event schemas, operational webhooks, ed25519.
        "/v1/accounts/{account_id}/filters/test",
        "/v1/event-types/{name}",
        "/v1/operational-endpoints",
        "/v1/operational-endpoints/{endpoint_id}",
        "/v1/operational-endpoints/{endpoint_id}/public-key",
        "/v1/operational-endpoints/{endpoint_id}/secret/rotate",
        "/v1/operational-endpoints/{endpoint_id}/test",
        "/v1/operational-endpoints/{endpoint_id}/attempts",
        "/v1/accounts/{account_id}/endpoints/{endpoint_id}/public-key",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    assert!(doc["paths"]["/v1/event-types/{name}"]["patch"].is_object());
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("EndpointBody", "filter"),
        ("EndpointBody", "signature_scheme"),
        ("EndpointOut", "public_key"),
        ("CreateEventType", "schema"),
        ("UpdateEventType", "schema"),
        ("EventTypeOut", "schema"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field} documented: {}",
            schemas[schema]
        );
    }
    assert!(
        doc["paths"]["/v1/accounts/{account_id}/events"]["post"]["description"].is_string()
            || doc["paths"]["/v1/accounts/{account_id}/events"]["post"]["summary"].is_string()
    );
});

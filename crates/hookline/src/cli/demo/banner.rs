//! What the demo prints about itself: the banner with the dashboard URL and
//! the tokens at start, a short reminder of them between the delivery lines
//! (they scroll fast; the way in should not scroll away with them), and the
//! summary at the end.

use std::path::PathBuf;

use super::receiver::Summary;

/// The reminder follows every this many delivery lines: about a screenful.
pub(super) const REMIND_EVERY_LINES: u64 = 40;

const COLUMNS: &str =
    "time      endpoint  event type            event id                        status  signature  attempt";

/// Where the running demo is and how to get in.
pub(super) struct Banner {
    pub(super) base: String,
    pub(super) api_key: String,
    pub(super) admin_token: String,
    pub(super) account_id: String,
    pub(super) failure_ratio: f64,
    pub(super) data_dir: PathBuf,
}

impl Banner {
    /// The full banner, then the column titles of the delivery lines.
    pub(super) fn start(&self) -> String {
        let base = &self.base;
        [
            "Hookline demo is running — a simulated payment gateway is publishing events.".to_string(),
            format!("  Dashboard:   {base}/dashboard"),
            format!("  Log in with: {}   (the Demo Merchant's API key)", self.api_key),
            format!("  Admin token: {}", self.admin_token),
            format!("  API:         {base}/v1/accounts/{}/events", self.account_id),
            format!("  Data:        {}", self.data_dir.display()),
            format!(
                "  The 'flaky' endpoint fails {:.0}% of requests, so retries show up. Ctrl-C stops.",
                self.failure_ratio * 100.0
            ),
            String::new(),
            COLUMNS.to_string(),
        ]
        .join("\n")
    }

    /// A short reminder of the way in, then the column titles again.
    pub(super) fn reminder(&self) -> String {
        format!(
            "\n  Dashboard:   {}/dashboard   (Ctrl-C stops)\n  Log in with: {}\n  Admin token: {}\n{COLUMNS}",
            self.base, self.api_key, self.admin_token
        )
    }

    /// What happened, when the demo has stopped.
    pub(super) fn summary(&self, seen: &Summary) -> String {
        format!(
            "\ndemo summary: {} deliveries received, {} verified, {} failed verification\n  \
             the flaky endpoint answered {} with 500/503 on purpose; {} requests were retries\n  \
             the demo's database stays in {} until the next `hookline demo`",
            seen.received,
            seen.verified,
            seen.unverified,
            seen.failed_on_purpose,
            seen.retries,
            self.data_dir.display()
        )
    }
}

//! Wake-ups across the fleet with PostgreSQL's LISTEN/NOTIFY, so an idle
//! node learns of new or released work at once instead of polling for it.
//!
//! After a commit that may have made deliveries due (a publish leaving work
//! to be claimed, a resend, a release, a dead node's deliveries released),
//! the store asks its [`Notifier`] for a notice; the notifier sends one
//! `pg_notify` for every burst of such commits (outside their transactions,
//! so no publish waits for it, and at most one per [`MIN_GAP`]). Every node
//! [`listen`]s and wakes its scheduler on each notice but its own. A lost
//! notice costs only latency: the scheduler still polls, rarely.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel every node listens on.
const CHANNEL: &str = "hookline_due";
/// Least time between two notices from one store: bursts of commits
/// coalesce into one wake-up instead of one per commit.
const MIN_GAP: Duration = Duration::from_millis(5);
/// Wait before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Sends this store's notices from a task of its own; stops on drop.
pub(super) struct Notifier {
    pending: Arc<Notify>,
    /// Names this store in its notices, so its own listener skips them.
    tag: String,
    task: JoinHandle<()>,
}

impl Notifier {
    pub(super) fn spawn(db: PgPool) -> Notifier {
        let pending = Arc::new(Notify::new());
        let tag = hookline_core::Id::generate(hookline_core::IdKind::Attempt);
        let task = tokio::spawn(send_notices(db, pending.clone(), tag.clone()));
        Notifier { pending, tag, task }
    }

    /// Asks for a notice soon; many asks before it goes out make one.
    pub(super) fn due_work(&self) {
        self.pending.notify_one();
    }

    /// Wakes `wake` on every notice of another store until dropped.
    pub(super) fn listen(&self, db: PgPool, wake: Arc<Notify>) -> JoinHandle<()> {
        tokio::spawn(listen(db, self.tag.clone(), wake))
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send_notices(db: PgPool, pending: Arc<Notify>, tag: String) {
    loop {
        pending.notified().await;
        if let Err(err) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&tag)
            .execute(&db)
            .await
        {
            tracing::debug!(error = %err, "could not notify other nodes of due work; they will poll");
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}

async fn listen(db: PgPool, tag: String, wake: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&db).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for due work; polling until it can");
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for due work; polling until it can");
            tokio::time::sleep(RECONNECT_AFTER).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notice)) if notice.payload() == tag => {}
                Ok(Some(_)) => wake.notify_one(),
                // The connection was lost (and is back): notices may have
                // been missed meanwhile, so look once.
                Ok(None) => wake.notify_one(),
                Err(err) => {
                    tracing::warn!(error = %err, "lost the connection listening for due work");
                    wake.notify_one();
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    break;
                }
            }
        }
    }
}

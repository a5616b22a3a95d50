//! This node's membership of a fleet sharing one PostgreSQL database: it
//! registers under its node id (taking back at once what a crashed run of
//! the same id held), beats every `heartbeat_interval`, and declares dead
//! every node silent for `node_dead_after`, releasing its deliveries so a
//! live node retries them within seconds instead of a whole lease.
//!
//! It also fences this node. Each run of the node lives a *life*: a token
//! every lease it takes is bound to. A confirmed heartbeat sent at `t`
//! keeps the life until `t + node_dead_after - heartbeat_interval`, before
//! any other node may declare this one dead; a life not renewed by then, or
//! a heartbeat that finds the node declared dead, ends it: attempts of that
//! life stop (even mid-request), nothing new starts, and the node registers
//! again (releasing whatever it still held) before it takes more work. So
//! two live nodes never attempt one delivery at once; a node paused past
//! its heartbeats that wakes mid-attempt is fenced in the store too (its
//! lease epoch is outdated: it records nothing). On a store one process
//! owns (SQLite) there is no fleet: the one life never ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_store::{Heartbeat, SharedStore};
use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// The node's standing in its fleet.
pub(super) struct Liveness {
    node_id: String,
    /// Whether other nodes share the store (and may declare this one dead).
    fleet: bool,
    heartbeat_interval: Duration,
    dead_after: Duration,
    life: Mutex<Life>,
}

/// The current life: its token, and until when it lasts without another
/// confirmed heartbeat (`None`: for good, on a store with no fleet).
struct Life {
    token: CancellationToken,
    until: Option<Instant>,
}

impl Liveness {
    /// A node that is not yet registered (in a fleet: it takes no work
    /// until [`Liveness::run`] has registered it).
    pub(super) fn new(config: &Config, fleet: bool) -> Liveness {
        let token = CancellationToken::new();
        if fleet {
            token.cancel();
        }
        Liveness {
            node_id: config.node_id(),
            fleet,
            heartbeat_interval: config.heartbeat_interval,
            dead_after: config.node_dead_after,
            life: Mutex::new(Life { token, until: None }),
        }
    }

    /// This node's id, in its leases and its heartbeats.
    pub(super) fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The life work may be leased and started under now; `None` while
    /// the node is fenced (not registered, or its life ran out).
    pub(super) fn current(&self) -> Option<CancellationToken> {
        let life = self.life.lock().expect("never poisoned");
        let live = !life.token.is_cancelled() && life.until.is_none_or(|t| Instant::now() < t);
        live.then(|| life.token.clone())
    }

    /// Registers, beats, declares others dead and fences this node until
    /// `shutdown`; `wake` is told when work became due here (released
    /// leases, a new life). Does nothing on a store with no fleet.
    pub(super) async fn run(
        self: Arc<Self>,
        store: SharedStore,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) {
        if !self.fleet {
            return;
        }
        let mut ticks = tokio::time::interval(self.heartbeat_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut epoch = None;
        loop {
            let until = self.life.lock().expect("never poisoned").until;
            let expiry = until.filter(|_| epoch.is_some());
            tokio::select! {
                _ = shutdown.cancelled() => {
                    if let Some(epoch) = epoch {
                        self.leave(&store, epoch).await;
                    }
                    return;
                }
                _ = sleep_until(expiry) => {
                    self.fence("no heartbeat was confirmed in time (is the database reachable?)");
                    epoch = None;
                    continue;
                }
                _ = ticks.tick() => {}
            }
            let Some(current) = epoch else {
                epoch = self.register(&store, &wake).await;
                continue;
            };
            let sent = Instant::now();
            // Bounded by the life too, so it ends on time even while a
            // heartbeat hangs.
            let limit = expiry.map_or(sent + self.heartbeat_interval, |at| {
                at.min(sent + self.heartbeat_interval)
            });
            let beat = tokio::time::timeout_at(limit, store.heartbeat(&self.node_id, current));
            match beat.await.ok() {
                Some(Ok(Heartbeat::Alive)) => {
                    self.renew(sent);
                    self.release_dead(&store, &wake).await;
                }
                Some(Ok(Heartbeat::Dead)) => {
                    self.fence("another node declared this one dead (was it paused or cut off?); its deliveries went to others");
                    epoch = None;
                }
                Some(Ok(Heartbeat::Superseded)) => {
                    self.fence("");
                    tracing::error!(
                        node_id = %self.node_id,
                        "another process registered with this node id, so this one stops delivering; \
                         give every node its own HOOKLINE_NODE_ID"
                    );
                    return;
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, node_id = %self.node_id, "heartbeat failed; retrying")
                }
                None => tracing::warn!(node_id = %self.node_id, "heartbeat timed out; retrying"),
            }
        }
    }

    /// Starts a new life: registers (releasing what an earlier run of this
    /// id held) and answers the registration's epoch, or `None` to retry.
    async fn register(&self, store: &SharedStore, wake: &Notify) -> Option<i64> {
        let sent = Instant::now();
        match self.bounded(store.register_node(&self.node_id)).await {
            Some(Ok(registration)) => {
                tracing::info!(
                    node_id = %self.node_id,
                    epoch = registration.epoch,
                    released = registration.released,
                    predecessor_silent_ms = registration.predecessor_silent_ms,
                    "joined the fleet"
                );
                let mut life = self.life.lock().expect("never poisoned");
                life.token = CancellationToken::new();
                life.until = Some(sent + self.entitlement());
                drop(life);
                wake.notify_one();
                Some(registration.epoch)
            }
            Some(Err(err)) => {
                tracing::warn!(error = %err, node_id = %self.node_id, "cannot register this node; retrying");
                None
            }
            None => {
                tracing::warn!(node_id = %self.node_id, "registering this node timed out; retrying");
                None
            }
        }
    }

    /// Leaves the fleet on a clean shutdown (the scheduler has drained), so
    /// no other node has to declare this one dead some seconds later.
    async fn leave(&self, store: &SharedStore, epoch: i64) {
        self.fence("");
        match self.bounded(store.leave_fleet(&self.node_id, epoch)).await {
            Some(Ok(released)) => {
                tracing::info!(node_id = %self.node_id, released, "left the fleet")
            }
            Some(Err(err)) => {
                tracing::warn!(error = %err, node_id = %self.node_id, "could not leave the fleet; other nodes will declare this one dead")
            }
            None => {
                tracing::warn!(node_id = %self.node_id, "leaving the fleet timed out; other nodes will declare this one dead")
            }
        }
    }

    /// Declares silent nodes dead, releasing their deliveries.
    async fn release_dead(&self, store: &SharedStore, wake: &Notify) {
        match self
            .bounded(store.release_dead_nodes(self.dead_after))
            .await
        {
            Some(Ok(dead)) => {
                for node in &dead {
                    tracing::warn!(
                        node_id = %node.node_id,
                        silent_ms = node.silent_ms,
                        released = node.released,
                        "declared a silent node dead; its deliveries are due again"
                    );
                }
                if dead.iter().any(|d| d.released > 0) {
                    wake.notify_one();
                }
            }
            Some(Err(err)) => {
                tracing::warn!(error = %err, "could not look for dead nodes; will again")
            }
            None => tracing::warn!("looking for dead nodes timed out; will again"),
        }
    }

    /// How long a heartbeat confirmed now keeps the life: until just before
    /// any other node may declare this one dead.
    fn entitlement(&self) -> Duration {
        self.dead_after.saturating_sub(self.heartbeat_interval)
    }

    fn renew(&self, sent: Instant) {
        let mut life = self.life.lock().expect("never poisoned");
        if !life.token.is_cancelled() {
            life.until = Some(sent + self.entitlement());
        }
    }

    /// Ends the current life: its attempts stop, nothing new starts.
    fn fence(&self, why: &str) {
        let life = self.life.lock().expect("never poisoned");
        if life.token.is_cancelled() {
            return;
        }
        life.token.cancel();
        drop(life);
        if !why.is_empty() {
            tracing::warn!(node_id = %self.node_id, "{why}; this node stops its attempts and registers again");
        }
    }

    /// `call`, or `None` if it takes longer than one heartbeat interval.
    async fn bounded<T>(&self, call: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.heartbeat_interval, call)
            .await
            .ok()
    }
}

/// Sleeps until `at`, or for ever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_fleet_the_one_life_never_ends() {
        let liveness = Liveness::new(&Config::default(), false);
        let life = liveness.current().expect("alive from the start");
        assert!(!life.is_cancelled());
    }

    #[test]
    fn in_a_fleet_no_work_is_taken_before_registering() {
        let liveness = Liveness::new(&Config::default(), true);
        assert!(liveness.current().is_none());
    }

    #[tokio::test]
    async fn a_life_lasts_until_just_before_others_may_declare_the_node_dead() {
        let liveness = Liveness::new(&Config::default(), true);
        {
            let mut life = liveness.life.lock().unwrap();
            life.token = CancellationToken::new();
            life.until = Some(Instant::now() + liveness.entitlement());
        }
        let token = liveness.current().expect("renewed");
        assert_eq!(
            liveness.entitlement(),
            Duration::from_secs(8),
            "10s dead-after less one 2s heartbeat"
        );
        liveness.life.lock().unwrap().until = Some(Instant::now());
        assert!(liveness.current().is_none(), "run out: nothing starts");
        liveness.fence("");
        assert!(token.is_cancelled(), "and its attempts stop");
        liveness.renew(Instant::now());
        assert!(liveness.current().is_none(), "a fenced life is not renewed");
    }
}

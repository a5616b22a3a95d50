//! The SQLite writer thread: one read-write connection, one transaction
//! per batch of queued write jobs, `synchronous=FULL` commit, and only then
//! an answer to each caller. One failing job does not spoil the batch: the
//! batch is rolled back and run again with each job in its own savepoint
//! (savepoints cost a statement journal per job, so the common,
//! all-succeed case goes without).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult};

/// Most write jobs committed in one transaction.
pub(super) const MAX_BATCH: usize = 2048;

/// One queued write: run once or twice (see [`run_batch`]), answered once.
pub(super) trait WriteJob: Send {
    /// Runs the job's statements; `false` when it failed and its writes must
    /// be undone.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the job's last result once `commit` succeeded,
    /// the commit's error otherwise.
    fn answer(self: Box<Self>, commit: Result<(), StoreError>);
}

pub(super) type Job = Box<dyn WriteJob>;

/// A write job and the channel its caller waits on.
pub(super) struct Queued<F, T> {
    pub(super) f: F,
    pub(super) result: Option<StoreResult<T>>,
    pub(super) reply: oneshot::Sender<StoreResult<T>>,
}

impl<F, T> WriteJob for Queued<F, T>
where
    F: Fn(&Connection) -> StoreResult<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, commit: Result<(), StoreError>) {
        let Queued { result, reply, .. } = *self;
        let answer = commit.and_then(|()| {
            result.unwrap_or_else(|| Err(StoreError::Unavailable("the write did not run".into())))
        });
        let _ = reply.send(answer);
    }
}

/// Running totals of the writer thread (see [`WriterStats`]).
#[derive(Default)]
pub(super) struct WriterCounters {
    pub(super) commits: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) busy_nanos: AtomicU64,
}

/// The writer loop: one transaction per batch of queued jobs.
pub(super) fn run_writer(conn: Connection, mut rx: mpsc::Receiver<Job>, counters: &WriterCounters) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let commit = run_batch(&conn, &mut batch);
        let busy = started.elapsed().as_nanos().try_into().unwrap_or(u64::MAX);
        counters.busy_nanos.fetch_add(busy, Ordering::Relaxed);
        match &commit {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .writes
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(err) => tracing::error!(error = %err, "group commit failed"),
        }
        for job in batch.drain(..) {
            job.answer(commit.clone());
        }
    }
}

/// Runs and commits a batch: first plainly, and only if a job failed, once
/// more with each job in its own savepoint so the others still commit.
fn run_batch(conn: &Connection, batch: &mut [Job]) -> Result<(), StoreError> {
    let result = match run_jobs(conn, batch, false) {
        Ok(true) => conn.execute_batch("COMMIT").map_err(StoreError::from),
        Ok(false) => conn
            .execute_batch("ROLLBACK")
            .map_err(StoreError::from)
            .and_then(|()| run_jobs(conn, batch, true))
            .and_then(|_| Ok(conn.execute_batch("COMMIT")?)),
        Err(err) => Err(err),
    };
    if result.is_err() {
        // Leave no transaction open for the next batch; every job gets the error.
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// Runs every job in one open transaction; `Ok(false)` when a job failed
/// outside a savepoint (the transaction must then be rolled back).
fn run_jobs(conn: &Connection, batch: &mut [Job], isolated: bool) -> Result<bool, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if !isolated {
            if !job.run(conn) {
                return Ok(false);
            }
            continue;
        }
        conn.execute_batch("SAVEPOINT job")?;
        if !job.run(conn) {
            conn.execute_batch("ROLLBACK TO job")?;
        }
        conn.execute_batch("RELEASE job")?;
    }
    Ok(true)
}

//! The SQLite writer thread: one read-write connection, one transaction
//! per batch of queued write jobs, and an answer to each caller only once
//! the commit is durable. One failing job does not spoil the batch: the
//! batch is rolled back and run again with each job in its own savepoint
//! (savepoints cost a statement journal per job, so the common,
//! all-succeed case goes without).
//!
//! Durability is pipelined: the connection commits with
//! `synchronous=NORMAL` (no sync at commit in WAL mode; SQLite still syncs
//! around checkpoints), and a second thread, the syncer, `fdatasync`s the
//! WAL file and only then answers every batch committed before that sync
//! began. That is exactly the one sync `synchronous=FULL` adds per commit,
//! moved off the writer: while the syncer waits for the disk, the writer
//! runs the next batch, and one sync covers every batch committed
//! meanwhile. No caller is answered, and so no webhook is sent and no
//! `202` answered, before its write is on disk.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
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
    /// When the job was queued, for the writer's latency counters.
    fn queued_at(&self) -> Instant;
}

pub(super) type Job = Box<dyn WriteJob>;

/// A write job and the channel its caller waits on.
pub(super) struct Queued<F, T> {
    pub(super) queued_at: Instant,
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

    fn queued_at(&self) -> Instant {
        self.queued_at
    }
}

/// Running totals of the writer thread (see [`WriterStats`]).
#[derive(Default)]
pub(super) struct WriterCounters {
    pub(super) commits: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) busy_nanos: AtomicU64,
    /// WAL syncs by the syncer (each covers one or more commits).
    pub(super) syncs: AtomicU64,
    pub(super) sync_nanos: AtomicU64,
    /// Summed over committed writes: from queued to the start of its batch
    /// (waiting for the writer), and from queued to its answer once the
    /// WAL was synced (what a caller, e.g. a publish before its `202`,
    /// waits in all).
    pub(super) queue_nanos: AtomicU64,
    pub(super) durable_nanos: AtomicU64,
}

fn nanos(d: std::time::Duration) -> u64 {
    d.as_nanos().try_into().unwrap_or(u64::MAX)
}

/// The writer loop: one transaction per batch of queued jobs; committed
/// batches go to the syncer, which answers them once the WAL is on disk.
pub(super) fn run_writer(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    counters: &WriterCounters,
    wal: PathBuf,
) {
    let (synced, to_sync) = std_mpsc::channel::<Vec<Job>>();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("hookline-sqlite-syncer".into())
            .spawn_scoped(scope, || run_syncer(&wal, to_sync, counters))
            .expect("the SQLite syncer thread starts");
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
            counters
                .busy_nanos
                .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
            match commit {
                Ok(()) => {
                    let queued: u64 = batch
                        .iter()
                        .map(|job| nanos(started.saturating_duration_since(job.queued_at())))
                        .sum();
                    counters.queue_nanos.fetch_add(queued, Ordering::Relaxed);
                    counters.commits.fetch_add(1, Ordering::Relaxed);
                    counters
                        .writes
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let committed = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
                    // The syncer only stops once this sender is dropped; were it
                    // gone, the dropped jobs would answer "the writer has stopped".
                    let _ = synced.send(committed);
                }
                Err(err) => {
                    tracing::error!(error = %err, "group commit failed");
                    answer_all(std::mem::take(&mut batch), Err(err));
                }
            }
        }
        // Dropping the sender lets the syncer answer what is left and stop.
        drop(synced);
    });
}

/// The syncer loop: takes every committed batch waiting, makes the WAL
/// durable with one `fdatasync`, then answers them. Batches committed while
/// a sync runs wait for the next one, which covers them all.
fn run_syncer(
    wal: &std::path::Path,
    batches: std_mpsc::Receiver<Vec<Job>>,
    counters: &WriterCounters,
) {
    let mut file: Option<File> = None;
    while let Ok(first) = batches.recv() {
        let mut ready = vec![first];
        ready.extend(batches.try_iter());
        let started = Instant::now();
        let result = sync_wal(wal, &mut file);
        counters
            .sync_nanos
            .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
        counters.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = &result {
            tracing::error!(error = %err, "making the WAL durable failed");
        }
        let answered = Instant::now();
        let waited: u64 = ready
            .iter()
            .flatten()
            .map(|job| nanos(answered.saturating_duration_since(job.queued_at())))
            .sum();
        counters.durable_nanos.fetch_add(waited, Ordering::Relaxed);
        for batch in ready {
            answer_all(batch, result.clone());
        }
    }
}

/// `fdatasync` of the WAL file, opened on first use (SQLite creates it with
/// the first write) and kept open: a checkpoint rewinds the file in place.
fn sync_wal(wal: &std::path::Path, file: &mut Option<File>) -> Result<(), StoreError> {
    let durable = |e: std::io::Error| {
        StoreError::Unavailable(format!(
            "cannot make {} durable: {e}; the write may be lost, retry it",
            wal.display()
        ))
    };
    if file.is_none() {
        *file = Some(File::open(wal).map_err(durable)?);
    }
    let synced = file.as_ref().map_or(Ok(()), File::sync_data);
    if synced.is_err() {
        // Open it afresh next time rather than trusting a failed handle.
        *file = None;
    }
    synced.map_err(durable)
}

fn answer_all(batch: Vec<Job>, result: Result<(), StoreError>) {
    for job in batch {
        job.answer(result.clone());
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

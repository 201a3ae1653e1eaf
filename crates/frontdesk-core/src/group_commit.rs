//! Group commit: writes that arrive while a batch is being written wait for it, and are then
//! written together by whichever of them gets the turn next.
//!
//! A store uses it where the cost of a write is mostly per transaction (round trips, commit)
//! rather than per row. Nothing waits on a timer: with no concurrency a batch is one request and
//! it is written at once; under load the batch grows by itself to what arrived during the last
//! write. Turns are handed out first come, first served; a caller whose request was in someone
//! else's batch returns as soon as its answer is there, without waiting for a turn. A store with
//! one writer (SQLite) has one lane: one batch at a time; a server database can take a few
//! batches at once (lanes), so that one batch's commit does not hold up the next.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The requests waiting for a batch, and the turn to write one.
pub struct GroupCommit<Req, Res> {
    pending: Mutex<Vec<(Req, oneshot::Sender<Res>)>>,
    turns: tokio::sync::Semaphore,
    max_batch: usize,
}

/// One batch to write: its requests in arrival order, and where their answers go.
pub struct Batch<Req, Res> {
    requests: Vec<Req>,
    replies: Vec<oneshot::Sender<Res>>,
}

/// The batch holding a request ended without answering it (its writer panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batch ended without an answer")]
pub struct Abandoned;

impl<Req, Res> Batch<Req, Res> {
    pub fn requests(&self) -> &[Req] {
        &self.requests
    }

    /// Answers every request, in order: `results` has one result per request.
    pub fn finish(self, results: Vec<Res>) {
        debug_assert_eq!(results.len(), self.replies.len(), "one result per request");
        for (reply, result) in self.replies.into_iter().zip(results) {
            // The caller may have gone away; its request was written all the same.
            let _ = reply.send(result);
        }
    }
}

/// A write of a whole batch: one result per request, or an error when nothing was written.
pub type WriteAll<'a, T, E> = std::pin::Pin<Box<dyn Future<Output = Result<Vec<Result<T, E>>, E>> + Send + 'a>>;

impl<Req, T, E: From<Abandoned>> Batch<Req, Result<T, E>> {
    /// Writes the batch with `write(store, requests)` and answers it. If the write fails as a
    /// whole, each request is written alone, so one bad request (say, a duplicate key) fails alone
    /// instead of failing the batch it happened to share.
    pub async fn write_or_one_by_one<S, F>(self, store: &S, write: F)
    where
        F: for<'a> Fn(&'a S, &'a [Req]) -> WriteAll<'a, T, E>,
    {
        let results = match write(store, &self.requests).await {
            Ok(results) => results,
            Err(e) if self.requests.len() == 1 => vec![Err(e)],
            Err(_) => {
                let mut results = Vec::with_capacity(self.requests.len());
                for request in &self.requests {
                    results.push(match write(store, std::slice::from_ref(request)).await {
                        Ok(mut one) => one.pop().unwrap_or_else(|| Err(Abandoned.into())),
                        Err(e) => Err(e),
                    });
                }
                results
            }
        };
        self.finish(results);
    }
}

impl<Req, Res> std::fmt::Debug for GroupCommit<Req, Res> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("max_batch", &self.max_batch).finish_non_exhaustive()
    }
}

impl<Req, Res> GroupCommit<Req, Res> {
    /// Batches hold at most `max_batch` requests; at most `lanes` batches are written at once
    /// (both at least one).
    pub fn new(max_batch: usize, lanes: usize) -> Self {
        GroupCommit {
            pending: Mutex::new(Vec::new()),
            turns: tokio::sync::Semaphore::new(lanes.max(1)),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues `request` and waits for its answer. When this caller gets the turn and its request
    /// is still waiting, it calls `write` with the next batch (which holds it) and waits for that.
    ///
    /// `write` must answer the batch ([`Batch::finish`]) even if this caller goes away meanwhile:
    /// a store runs the write in a task of its own, so that a dropped request (an HTTP client
    /// that disconnected) cannot cut short the batch of the others.
    pub async fn submit<W, Fut>(&self, request: Req, write: W) -> Result<Res, Abandoned>
    where
        W: Fn(Batch<Req, Res>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (reply, mut answer) = oneshot::channel();
        self.lock_pending().push((request, reply));
        loop {
            // Whichever comes first: our answer (written in someone else's batch: return at
            // once, without queueing for a turn) or a turn.
            let turn = tokio::select! {
                biased;
                result = &mut answer => return result.map_err(|_| Abandoned),
                turn = self.turns.acquire() => match turn {
                    Ok(turn) => turn,
                    Err(_) => return Err(Abandoned),
                },
            };
            // The caller before us may have written ours already.
            match answer.try_recv() {
                Ok(result) => return Ok(result),
                Err(oneshot::error::TryRecvError::Closed) => return Err(Abandoned),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = self.take();
            if batch.requests.is_empty() {
                // Ours is in a batch still being written (in another lane, or by a caller that
                // went away): wait for it.
                drop(turn);
                return answer.await.map_err(|_| Abandoned);
            }
            write(batch).await;
            drop(turn);
            // More than `max_batch` were waiting and ours was not among the first: go again.
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<(Req, oneshot::Sender<Res>)>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self) -> Batch<Req, Res> {
        let mut pending = self.lock_pending();
        let n = pending.len().min(self.max_batch);
        let (requests, replies) = pending.drain(..n).unzip();
        Batch { requests, replies }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_batches_and_each_gets_its_own_answer() {
        for lanes in [1, 3] {
            share_batches(lanes).await;
        }
    }

    async fn share_batches(lanes: usize) {
        let commit = Arc::new(GroupCommit::<u32, u32>::new(8, lanes));
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let writing = Arc::new(AtomicUsize::new(0));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let mut callers = Vec::new();
        for i in 0..100u32 {
            let (commit, batches, writing, most_at_once) =
                (commit.clone(), batches.clone(), writing.clone(), most_at_once.clone());
            callers.push(tokio::spawn(async move {
                commit
                    .submit(i, |batch: Batch<u32, u32>| {
                        let (batches, writing, most_at_once) = (batches.clone(), writing.clone(), most_at_once.clone());
                        async move {
                            let now = writing.fetch_add(1, Ordering::SeqCst) + 1;
                            most_at_once.fetch_max(now, Ordering::SeqCst);
                            // Slow enough that others queue up behind the write.
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                            batches
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(batch.requests().to_vec());
                            let answers = batch.requests().iter().map(|r| r * 10).collect();
                            writing.fetch_sub(1, Ordering::SeqCst);
                            batch.finish(answers);
                        }
                    })
                    .await
            }));
        }
        for (i, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.await.expect("caller panicked"), Ok(i as u32 * 10), "each caller gets its own answer");
        }
        let batches = batches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut written: Vec<u32> = batches.iter().flatten().copied().collect();
        written.sort_unstable();
        assert_eq!(written, (0..100).collect::<Vec<_>>(), "every request written exactly once ({lanes} lanes)");
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 8), "batches hold 1..=max_batch: {batches:?}");
        assert!(batches.len() < 100, "concurrent requests shared batches: {} batches", batches.len());
        let most = most_at_once.load(Ordering::SeqCst);
        assert!(most <= lanes, "at most {lanes} batches written at once, saw {most}");
    }

    #[tokio::test]
    async fn a_batch_that_fails_as_a_whole_is_written_one_by_one() {
        #[derive(Debug, PartialEq)]
        struct Refused;
        impl From<Abandoned> for Refused {
            fn from(_: Abandoned) -> Self {
                Refused
            }
        }
        // The "store" refuses any write that holds request 2, like a duplicate key would.
        fn write<'a>(calls: &'a Mutex<Vec<Vec<u32>>>, requests: &'a [u32]) -> WriteAll<'a, u32, Refused> {
            Box::pin(async move {
                calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(requests.to_vec());
                if requests.contains(&2) { Err(Refused) } else { Ok(requests.iter().map(|r| Ok(r * 10)).collect()) }
            })
        }
        let (reply, mut answers): (Vec<_>, Vec<_>) = (0..3).map(|_| oneshot::channel()).unzip();
        let batch = Batch { requests: vec![1, 2, 3], replies: reply };
        let calls = Mutex::new(Vec::new());
        batch.write_or_one_by_one(&calls, write).await;
        let got: Vec<_> = answers.iter_mut().map(|a| a.try_recv().expect("answered")).collect();
        assert_eq!(got, vec![Ok(10), Err(Refused), Ok(30)], "only the bad request fails");
        let calls = calls.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(calls, vec![vec![1, 2, 3], vec![1], vec![2], vec![3]], "the batch, then each alone");
    }

    #[tokio::test]
    async fn a_batch_dropped_unanswered_is_abandoned_not_hung() {
        let commit = GroupCommit::<u32, u32>::new(4, 1);
        let result = commit.submit(1, |batch: Batch<u32, u32>| async move { drop(batch) }).await;
        assert_eq!(result, Err(Abandoned));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_mid_write_does_not_lose_the_others() {
        let commit = Arc::new(GroupCommit::<u32, u32>::new(16, 1));
        let started = Arc::new(tokio::sync::Notify::new());
        let writes = Arc::new(AtomicUsize::new(0));
        let write = |started: Arc<tokio::sync::Notify>, writes: Arc<AtomicUsize>| {
            move |batch: Batch<u32, u32>| {
                let (started, writes) = (started.clone(), writes.clone());
                // The write goes on in its own task, as stores do.
                let task = tokio::spawn(async move {
                    started.notify_one();
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    writes.fetch_add(batch.requests().len(), Ordering::SeqCst);
                    let answers = batch.requests().to_vec();
                    batch.finish(answers);
                });
                async move {
                    let _ = task.await;
                }
            }
        };
        let leader = {
            let (commit, w) = (commit.clone(), write(started.clone(), writes.clone()));
            tokio::spawn(async move { commit.submit(1, w).await })
        };
        started.notified().await;
        // Queued behind the leader's write, then the leader goes away mid-write.
        let follower = {
            let (commit, w) = (commit.clone(), write(started.clone(), writes.clone()));
            tokio::spawn(async move { commit.submit(2, w).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        leader.abort();
        assert_eq!(follower.await.expect("follower panicked"), Ok(2));
        // The leader's batch goes on in its task after the leader went away.
        for _ in 0..500 {
            if writes.load(Ordering::SeqCst) == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(writes.load(Ordering::SeqCst), 2, "the leader's own request was written too");
    }
}

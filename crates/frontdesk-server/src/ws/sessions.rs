//! Whether the sessions behind this node's widget sockets still hold. Revoking a session's
//! tokens (or erasing the conversation) must close its open sockets on every node within one
//! heartbeat. Rather than each socket reading its conversation on every heartbeat — one database
//! read per socket per heartbeat, 600 reads a second for 15,000 idle sockets — one sweep per node
//! and heartbeat reads the token generations of all of them (`Store::token_generations`, a few
//! hundred conversations per query) and ends the sockets whose session changed or is gone.

use frontdesk_core::store::Store;
use frontdesk_core::{ConversationId, SiteId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Conversations per `token_generations` query.
const SWEEP_PAGE: usize = 500;

struct Open {
    site: SiteId,
    conversation: ConversationId,
    /// The generation of the token the socket was opened with.
    generation: i64,
    ended: Arc<Notify>,
}

/// The open widget sockets of this node, by connection id.
#[derive(Default)]
pub struct WidgetSessions {
    open: Mutex<HashMap<u64, Open>>,
}

fn lock(m: &Mutex<HashMap<u64, Open>>) -> MutexGuard<'_, HashMap<u64, Open>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open widget socket's registration; dropping it removes the socket from the sweep.
pub struct OpenSession {
    sessions: Arc<WidgetSessions>,
    id: u64,
    /// Notified once the session was revoked or its conversation erased.
    pub ended: Arc<Notify>,
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        lock(&self.sessions.open).remove(&self.id);
    }
}

impl WidgetSessions {
    pub fn open(self: &Arc<Self>, id: u64, site: SiteId, conversation: ConversationId, generation: i64) -> OpenSession {
        let ended = Arc::new(Notify::new());
        lock(&self.open).insert(id, Open { site, conversation, generation, ended: ended.clone() });
        OpenSession { sessions: self.clone(), id, ended }
    }

    /// Sweeps every `every` until `stopped` changes (or its sender is dropped with the server).
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, every: Duration, mut stopped: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sweep(&*store).await,
                _ = stopped.changed() => return,
            }
        }
    }

    /// Ends the sockets whose conversation's token generation moved on or which is gone. A
    /// database error ends nothing (it is not a verdict); the next sweep tries again.
    pub async fn sweep(&self, store: &dyn Store) {
        let pairs: Vec<(SiteId, ConversationId)> = {
            let open = lock(&self.open);
            let unique: HashSet<(SiteId, ConversationId)> = open.values().map(|o| (o.site, o.conversation)).collect();
            unique.into_iter().collect()
        };
        let mut current = HashMap::with_capacity(pairs.len());
        for page in pairs.chunks(SWEEP_PAGE) {
            match store.token_generations(page).await {
                Ok(found) => current.extend(found),
                Err(e) => {
                    tracing::warn!(error = %e, "websocket: cannot check the widget sessions; trying again next heartbeat");
                    return;
                }
            }
        }
        // Only sockets that were open when the pairs were read: a newer one was checked when it opened.
        let checked: HashSet<ConversationId> = pairs.iter().map(|(_, c)| *c).collect();
        for open in lock(&self.open).values() {
            if checked.contains(&open.conversation) && current.get(&open.conversation) != Some(&open.generation) {
                open.ended.notify_one();
            }
        }
    }
}

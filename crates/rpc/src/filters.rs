//! Polled filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`), as geth keeps them: in memory,
//! dropped after five minutes without a poll.

use crate::eth::{RpcContext, RpcResult, err, internal};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{B256, U256},
    rpc::types::{Filter, FilterBlockOption, Log},
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// A filter not polled for this long is removed (geth's deadline).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// At most this many filters at once.
pub const MAX_FILTERS: usize = 10_000;
/// A pending-transaction filter keeps at most this many unpolled hashes.
const MAX_PENDING: usize = 10_000;

enum Kind {
    /// Logs of blocks from `next` on, within the filter's own range.
    Logs {
        filter: Box<Filter>,
        next: u64,
    },
    Blocks {
        next: u64,
    },
    Pending {
        hashes: Vec<B256>,
    },
}

/// What one poll of a filter asks of the chain.
enum Poll {
    Hashes(Vec<B256>),
    Blocks((u64, u64)),
    Logs(Box<Filter>, (u64, u64)),
}

struct Entry {
    kind: Kind,
    polled: Instant,
}

/// The installed filters.
#[derive(Default)]
pub struct Filters {
    entries: Mutex<HashMap<U256, Entry>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters").field("installed", &self.entries.lock().len()).finish()
    }
}

fn not_found(id: U256) -> jsonrpsee::types::ErrorObjectOwned {
    err(-32000, format!("filter not found: {id:#x}"))
}

impl Filters {
    fn install(&self, kind: Kind) -> RpcResult<U256> {
        let mut entries = self.entries.lock();
        entries.retain(|_, e| e.polled.elapsed() < FILTER_TIMEOUT);
        if entries.len() >= MAX_FILTERS {
            return Err(err(
                -32005,
                format!("too many filters installed (limit {MAX_FILTERS}); uninstall some"),
            ));
        }
        let id = U256::from_be_slice(&crate::server::rand_bytes());
        entries.insert(id, Entry { kind, polled: Instant::now() });
        Ok(id)
    }

    pub fn installed(&self) -> usize {
        self.entries.lock().len()
    }

    /// Runs `f` on a live filter, as a poll (which keeps it from expiring).
    fn poll<T>(&self, id: U256, f: impl FnOnce(&mut Kind) -> RpcResult<T>) -> RpcResult<T> {
        let mut entries = self.entries.lock();
        let e = entries.get_mut(&id).ok_or_else(|| not_found(id))?;
        if e.polled.elapsed() >= FILTER_TIMEOUT {
            entries.remove(&id);
            return Err(not_found(id));
        }
        e.polled = Instant::now();
        f(&mut e.kind)
    }

    /// Records a transaction the pool accepted in every pending filter.
    pub fn pending(&self, hash: B256) {
        for e in self.entries.lock().values_mut() {
            if let Kind::Pending { hashes } = &mut e.kind
                && hashes.len() < MAX_PENDING
            {
                hashes.push(hash);
            }
        }
    }
}

impl RpcContext {
    pub fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        let head = self.head(&self.reader()?)?;
        self.filters.install(Kind::Logs { filter: Box::new(filter), next: head + 1 })
    }

    pub fn new_block_filter(&self) -> RpcResult<U256> {
        let head = self.head(&self.reader()?)?;
        self.filters.install(Kind::Blocks { next: head + 1 })
    }

    pub fn new_pending_filter(&self) -> RpcResult<U256> {
        self.filters.install(Kind::Pending { hashes: Vec::new() })
    }

    pub fn uninstall_filter(&self, id: U256) -> bool {
        self.filters.entries.lock().remove(&id).is_some()
    }

    /// What happened since the last poll: logs, block hashes or transaction
    /// hashes, by the filter's kind.
    pub fn filter_changes(&self, id: U256) -> RpcResult<Value> {
        let r = self.reader()?;
        let head = self.head(&r)?;
        // Take what is needed under the lock, query the chain outside it.
        let query = self.filters.poll(id, |kind| {
            // One poll covers at most `max_logs_range` blocks; the next goes on
            // from there. The cursor only moves forward (concurrent polls).
            let window = |next: &mut u64| {
                let from = *next;
                let to = head.min(from.saturating_add(self.max_logs_range.max(1) - 1));
                *next = (*next).max(to + 1);
                (from, to)
            };
            Ok(match kind {
                Kind::Pending { hashes } => Poll::Hashes(std::mem::take(hashes)),
                Kind::Blocks { next } => Poll::Blocks(window(next)),
                Kind::Logs { filter, next } => Poll::Logs(filter.clone(), window(next)),
            })
        })?;
        match query {
            Poll::Hashes(hashes) => Ok(json!(hashes)),
            Poll::Blocks((from, to)) => {
                let mut hashes = Vec::new();
                for n in from..=to {
                    match r.header(n).map_err(internal)? {
                        Some(h) => hashes.push(h.hash_slow()),
                        None => break,
                    }
                }
                Ok(json!(hashes))
            }
            Poll::Logs(filter, (from, to)) => {
                drop(r);
                let logs = self.logs_since(&filter, from, to)?;
                serde_json::to_value(logs).map_err(internal)
            }
        }
    }

    /// All logs a log filter matches over its whole range.
    pub fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        let filter = self.filters.poll(id, |kind| match kind {
            Kind::Logs { filter, .. } => Ok(filter.clone()),
            _ => Err(not_found(id)),
        })?;
        self.logs(*filter)
    }

    /// The logs `filter` matches in blocks `from..=head` (not past the head),
    /// within its own range.
    fn logs_since(&self, filter: &Filter, from: u64, head: u64) -> RpcResult<Vec<Log>> {
        if from > head {
            return Ok(vec![]);
        }
        let mut f = filter.clone();
        match filter.block_option {
            // A filter on one block hash has nothing new after its first poll.
            FilterBlockOption::AtBlockHash(_) => return Ok(vec![]),
            FilterBlockOption::Range { from_block, to_block } => {
                let lo = match from_block {
                    Some(BlockNumberOrTag::Number(n)) => n.max(from),
                    _ => from,
                };
                let hi = match to_block {
                    Some(BlockNumberOrTag::Number(n)) => n.min(head),
                    _ => head,
                };
                if lo > hi {
                    return Ok(vec![]);
                }
                f.block_option = FilterBlockOption::Range {
                    from_block: Some(lo.into()),
                    to_block: Some(hi.into()),
                };
            }
        }
        self.logs(f)
    }
}

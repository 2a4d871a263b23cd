//! The pool's journal: every accepted transaction appended as it is accepted,
//! so a restart or a kill -9 loses none (as geth's `transactions.rlp` and
//! reth's transaction backup), and every drop (evicted, expired, replaced,
//! refused) appended as a removal, so what left the pool stays gone. A record
//! is a 4-byte big-endian length and the transaction's EIP-2718 encoding; a
//! removal is the length `REMOVED | 32` and the transaction hash. Appends go to the operating system at
//! once (a killed process loses nothing it wrote; a power cut may lose the
//! last ones). The file is rewritten with only the pooled transactions on
//! load and when mined ones make up most of it; the rewrite is a new file
//! renamed over the old one, so a crash leaves one or the other whole.

use parking_lot::Mutex;
use std::{
    fs::{File, OpenOptions},
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
};

/// Largest record read back: anything longer is a torn or foreign file.
const MAX_RECORD: usize = 1 << 20;
/// The length's top bit marks a removal.
const REMOVED: u32 = 1 << 31;

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Added(Vec<u8>),
    Removed(alloy::primitives::B256),
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<(File, usize)>,
}

impl Journal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self { path, file: Mutex::new((file, 0)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn append(&self, raw: &[u8]) {
        let mut record = Vec::with_capacity(4 + raw.len());
        record.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        record.extend_from_slice(raw);
        self.write(&record);
    }

    pub(crate) fn remove(&self, hash: &alloy::primitives::B256) {
        let mut record = Vec::with_capacity(36);
        record.extend_from_slice(&(REMOVED | 32).to_be_bytes());
        record.extend_from_slice(hash.as_slice());
        self.write(&record);
    }

    /// Appends a whole record, or nothing: a failed write is cut off again,
    /// so no torn record sits before later ones.
    fn write(&self, record: &[u8]) {
        let mut f = self.file.lock();
        let len = f.0.metadata().map(|m| m.len()).ok();
        if let Err(e) = f.0.write_all(record) {
            tracing::warn!(target: "mempool", path = %self.path.display(), "journal write: {e}");
            if let Some(len) = len {
                let _ = f.0.set_len(len);
            }
        }
        f.1 += 1;
    }

    /// Every whole record, in the order written; a torn last one is skipped.
    pub(crate) fn read_all(&self) -> Vec<Record> {
        let mut bytes = Vec::new();
        if let Err(e) = File::open(&self.path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            tracing::warn!(target: "mempool", path = %self.path.display(), "journal read: {e}");
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut rest = bytes.as_slice();
        while rest.len() >= 4 {
            let word = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let len = (word & !REMOVED) as usize;
            if len > MAX_RECORD || rest.len() < 4 + len || (word & REMOVED != 0 && len != 32) {
                tracing::warn!(target: "mempool", "journal: {} trailing bytes of a torn record skipped", rest.len());
                break;
            }
            let body = &rest[4..4 + len];
            out.push(if word & REMOVED != 0 {
                Record::Removed(alloy::primitives::B256::from_slice(body))
            } else {
                Record::Added(body.to_vec())
            });
            rest = &rest[4 + len..];
        }
        out
    }

    /// Whether mined and dropped transactions make up most of the file.
    pub(crate) fn wants_compaction(&self, live: usize) -> bool {
        self.file.lock().1 > 2 * live + 1_024
    }

    /// Replaces the journal with `live` (written to a new file, synced,
    /// renamed over the old one).
    pub(crate) fn rewrite(&self, live: &[Vec<u8>]) {
        let mut f = self.file.lock();
        let tmp = self.path.with_extension("tmp");
        let written = (|| -> std::io::Result<File> {
            let mut out = File::create(&tmp)?;
            let mut buf = Vec::new();
            for raw in live {
                buf.extend_from_slice(&(raw.len() as u32).to_be_bytes());
                buf.extend_from_slice(raw);
            }
            out.write_all(&buf)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            OpenOptions::new().append(true).open(&self.path)
        })();
        match written {
            Ok(file) => *f = (file, live.len()),
            Err(e) => {
                tracing::warn!(target: "mempool", path = %self.path.display(), "journal rewrite: {e}")
            }
        }
    }
}

//! Spilling: objects written to disk when memory runs out, and read back.
//!
//! A spill file holds one object's serialized form behind a small header:
//! a magic tag, the payload length and its CRC-32. It is written to a
//! temporary name and renamed into place, so a reader never sees half a
//! file; a missing file, a short one or a checksum mismatch is reported as
//! [`Error::ObjectLost`] with the reason, never decoded into wrong data.
//!
//! Refs inside a spilled value are ids in the file; the [`SpillFile`] keeps
//! what they point to alive (collected while encoding), so nested objects
//! live exactly as long as the outer one, in memory or on disk. Dropping a
//! `SpillFile` deletes the file and returns its bytes to the store's
//! account.

use std::any::Any;
use std::cell::RefCell;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::object::id::ObjectId;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::sync::lock;

const MAGIC: &[u8; 8] = b"RRSPILL1";
const HEADER: usize = 8 + 8 + 4;

/// Something a serialized value refers to, kept alive with it.
pub(crate) type KeepAlive = Arc<dyn Any + Send + Sync>;

scoped_tls::scoped_thread_local!(static COLLECTOR: RefCell<Vec<KeepAlive>>);

/// Records `target` as referenced by the value being spilled, if any.
pub(crate) fn keep_alive(target: impl FnOnce() -> KeepAlive) {
    if COLLECTOR.is_set() {
        COLLECTOR.with(|c| c.borrow_mut().push(target()));
    }
}

/// The serialized form of `value`, with what its refs point to.
pub(crate) fn encode(value: &Value) -> Result<(Vec<u8>, Vec<KeepAlive>)> {
    let collected = RefCell::new(Vec::new());
    let bytes = COLLECTOR.set(&collected, || value.encode())?;
    Ok((bytes, collected.into_inner()))
}

/// The directory a runtime spills into.
pub(crate) struct SpillDir {
    path: PathBuf,
    /// `Some(created)` once the directory exists; `created` when this
    /// runtime made it (and so removes it at shutdown).
    state: Mutex<Option<bool>>,
}

impl SpillDir {
    pub(crate) fn new(path: PathBuf) -> SpillDir {
        SpillDir {
            path,
            state: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn ensure(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.is_none() {
            let existed = self.path.is_dir();
            fs::create_dir_all(&self.path)?;
            *state = Some(!existed);
        }
        Ok(())
    }

    /// The file an object spills to: `<spill dir>/<object id>.spill`.
    pub(crate) fn file_of(&self, id: ObjectId) -> PathBuf {
        self.path.join(format!("{id}.spill"))
    }

    /// Writes `payload` for object `id`, atomically (temp file + rename).
    pub(crate) fn write(&self, id: ObjectId, payload: &[u8]) -> io::Result<PathBuf> {
        self.ensure()?;
        let path = self.file_of(id);
        let tmp = self.path.join(format!("{id}.tmp"));
        let written = (|| {
            let mut file = fs::File::create(&tmp)?;
            let mut header = [0u8; HEADER];
            header[..8].copy_from_slice(MAGIC);
            header[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
            header[16..20].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
            file.write_all(&header)?;
            file.write_all(payload)?;
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map(|()| path)
    }

    /// Removes the directory if this runtime created it.
    pub(crate) fn remove(&self) {
        let state = lock(&self.state);
        if *state == Some(true) {
            if let Err(err) = fs::remove_dir_all(&self.path) {
                tracing::warn!(%err, dir = %self.path.display(), "could not remove the spill directory");
            }
        }
    }
}

/// One spilled object's file.
pub(crate) struct SpillFile {
    id: ObjectId,
    path: PathBuf,
    size: u64,
    store: Arc<Store>,
    _keep_alive: Vec<KeepAlive>,
}

impl SpillFile {
    pub(crate) fn new(
        store: &Arc<Store>,
        id: ObjectId,
        path: PathBuf,
        size: u64,
        keep_alive: Vec<KeepAlive>,
    ) -> SpillFile {
        store.account_spilled(size, true);
        SpillFile {
            id,
            path,
            size,
            store: Arc::clone(store),
            _keep_alive: keep_alive,
        }
    }

    /// The object's serialized form, checked.
    pub(crate) fn read(&self) -> Result<Vec<u8>> {
        let lost = |reason: String| Error::ObjectLost {
            object: self.id.to_string(),
            reason: format!("spill file {}: {reason}", self.path.display()),
        };
        let mut file = fs::File::open(&self.path).map_err(|e| lost(e.to_string()))?;
        let mut header = [0u8; HEADER];
        file.read_exact(&mut header)
            .map_err(|e| lost(format!("header unreadable: {e}")))?;
        if &header[..8] != MAGIC {
            return Err(lost("not a spill file (bad magic)".to_string()));
        }
        let len = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(header[16..20].try_into().unwrap_or_default());
        if len != self.size {
            return Err(lost(format!(
                "length {len} where {} was written",
                self.size
            )));
        }
        let mut payload = Vec::with_capacity(len as usize);
        file.take(len)
            .read_to_end(&mut payload)
            .map_err(|e| lost(e.to_string()))?;
        if payload.len() as u64 != len {
            return Err(lost(format!("truncated: {} of {len} bytes", payload.len())));
        }
        if crc32fast::hash(&payload) != crc {
            return Err(lost("checksum mismatch (corrupt file)".to_string()));
        }
        Ok(payload)
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        self.store.account_spilled(self.size, false);
        let _ = fs::remove_file(&self.path);
    }
}

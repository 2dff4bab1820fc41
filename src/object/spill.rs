//! Spilling: objects written to disk when memory runs out, and read back.
//!
//! # Layout on disk
//!
//! [`Config::spill_dir`](crate::Config::spill_dir) (default: the system temp
//! dir) is a *parent* that any number of runtimes may share, in one process
//! or several. Each runtime spills into a directory of its own under it,
//! `rustyray-<pid>-<runtime id>` (what
//! [`Runtime::spill_dir`](crate::Runtime::spill_dir) returns), created on
//! the first spill. In it:
//!
//! - `<object id>.<n>.spill`: one object alone: one too large to share a
//!   file (at least [`PACK_MAX`] bytes), or one written straight to disk;
//! - `pack-<n>.spill`: a shared file, holding the small objects of one spill
//!   batch one after another; it is deleted when the last object in it is
//!   freed or brought back into memory;
//! - `<name>.tmp`: a file being written; it is renamed to `<name>` once
//!   complete, so no reader ever sees half a file.
//!
//! `<n>` numbers the runtime's files, so no name is ever used twice: an
//! object restored and spilled again gets a new file while a reader may
//! still be reading the old one.
//!
//! Every object in a file is a record: a [`HEADER`]-byte header, then the
//! payload (the object's postcard encoding, the bytes that
//! [`MemoryStats`](crate::MemoryStats) counts). The header is the magic
//! `RRSPILL2`, the object's id (runtime id, then index: 8 bytes each, little
//! endian, so unique across processes), the payload's length (8 bytes) and
//! a CRC-32 of those 24 bytes and the payload (4 bytes). A reader knows
//! its record's file, offset and length: a missing file, a short one, a
//! header that names another object or another length, or a checksum
//! mismatch is [`Error::ObjectLost`] naming the object and the reason, never
//! decoded into wrong data.
//!
//! A runtime deletes only files it wrote: a file once its last object goes,
//! and at shutdown whatever of its files remain, then its own directory if
//! nothing else is in it, then the parent only if this runtime created it
//! and it is empty by then.
//!
//! # What a spilled value keeps alive
//!
//! Encoding a value for the disk collects, in encoding order, the handles
//! of what its refs and actor handles point to (as an in-memory copy does,
//! see `handoff`). The [`SpillFile`] keeps them, so nested objects live
//! exactly as long as the outer one, in memory or on disk; and reading
//! hands the same handles back to the decoder, so refs and actor handles
//! resolve to the very objects they named (an actor since killed, a ref of
//! another runtime) exactly as they do in memory.

use std::any::TypeId;
use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::object::handoff::{self, Handle};
use crate::object::id::ObjectId;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::Object;
use crate::sync::lock;

const MAGIC: &[u8; 8] = b"RRSPILL2";

/// Bytes of a record's header: magic, object id (runtime id and index),
/// payload length, CRC-32.
pub(crate) const HEADER: u64 = 8 + 16 + 8 + 4;

/// Objects whose encoding is smaller than this share a file with the rest
/// of their batch; larger ones get a file of their own.
pub(crate) const PACK_MAX: u64 = 256 << 10;

/// One object's serialized form, ready to be written, with the handles of
/// what its refs point to.
pub(crate) struct Encoded {
    id: ObjectId,
    bytes: Vec<u8>,
    handles: Vec<Handle>,
    type_id: TypeId,
}

impl Encoded {
    /// Bytes of the payload.
    pub(crate) fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// Encodes `value`, object `id`, for the disk (the value's `Serialize` runs
/// inside `catch`; see [`Value::encode`]).
pub(crate) fn encode(id: ObjectId, value: &Value) -> Result<Encoded> {
    let (bytes, handles) = handoff::collect(|| value.encode())?;
    Ok(Encoded {
        id,
        bytes,
        handles,
        type_id: value.type_id(),
    })
}

/// A record's header for object `id` and `payload`.
fn header(id: ObjectId, payload: &[u8]) -> [u8; HEADER as usize] {
    let mut header = [0u8; HEADER as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&id.runtime().as_u64().to_le_bytes());
    header[16..24].copy_from_slice(&id.index().to_le_bytes());
    header[24..32].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let crc = checksum(&header[8..32], payload);
    header[32..].copy_from_slice(&crc.to_le_bytes());
    header
}

fn checksum(fields: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(payload);
    hasher.finalize()
}

/// The little-endian number in the first 8 bytes of `bytes`.
fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

/// Writes `objects` into one new file of `store`'s spill directory (named
/// after the object when it is alone, a shared `pack-<n>.spill` otherwise)
/// and returns their [`SpillFile`]s, in order.
pub(crate) fn write(store: &Arc<Store>, objects: Vec<Encoded>) -> io::Result<Vec<SpillFile>> {
    let dir = store.spill_dir();
    let number = dir.next_number();
    let name = match objects.as_slice() {
        [one] => format!("{}.{number}.spill", one.id),
        _ => format!("pack-{number}.spill"),
    };
    let path = dir.write(number, &name, |out| {
        for object in &objects {
            out.write_all(&header(object.id, &object.bytes))?;
            out.write_all(&object.bytes)?;
        }
        Ok(())
    })?;
    let file = Arc::new(DiskFile {
        store: Arc::clone(store),
        number,
        path,
    });
    let mut offset = 0;
    Ok(objects
        .into_iter()
        .map(|object| {
            let size = object.len();
            let spilled = SpillFile::new(&file, object, offset);
            offset += HEADER + size;
            spilled
        })
        .collect())
}

/// The directory a runtime spills into, and the files it wrote there.
pub(crate) struct SpillDir {
    parent: PathBuf,
    path: PathBuf,
    next: AtomicU64,
    state: Mutex<DirState>,
}

#[derive(Default)]
struct DirState {
    /// The directory exists (it is made on the first spill).
    ready: bool,
    /// This runtime created the parent directory.
    created_parent: bool,
    /// Shut down: no more files, and every file left was deleted.
    closed: bool,
    /// Every file of ours on disk, by number.
    files: HashMap<u64, PathBuf>,
}

impl SpillDir {
    /// The directory `name` under `parent`; nothing is created yet.
    pub(crate) fn new(parent: PathBuf, name: &str) -> SpillDir {
        SpillDir {
            path: parent.join(name),
            parent,
            next: AtomicU64::new(1),
            state: Mutex::new(DirState::default()),
        }
    }

    /// The runtime's own directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn next_number(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates the parent (remembering whether it existed) and our own
    /// directory, once.
    fn ensure(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(io::Error::other("the runtime is shut down"));
        }
        if state.ready {
            return Ok(());
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let existed = self.parent.is_dir();
            fs::create_dir_all(&self.parent)?;
            if !existed {
                state.created_parent = true;
            }
            match fs::create_dir(&self.path) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.path.is_dir() => break,
                // Another runtime removed the (then empty) parent between
                // the two calls: make it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 => continue,
                Err(e) => return Err(e),
            }
        }
        state.ready = true;
        Ok(())
    }

    /// Writes file `name` through `fill`, atomically (temp file + rename),
    /// and registers it as ours under `number`.
    fn write(
        &self,
        number: u64,
        name: &str,
        fill: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
    ) -> io::Result<PathBuf> {
        self.ensure()?;
        let path = self.path.join(name);
        let tmp = self.path.join(format!("{name}.tmp"));
        let create = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        let file = match create() {
            // Our directory went (removed by hand?): make it again, once.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                lock(&self.state).ready = false;
                self.ensure()?;
                create()
            }
            file => file,
        }?;
        let written = (|| {
            let mut out = BufWriter::with_capacity(64 << 10, file);
            fill(&mut out)?;
            out.flush()?;
            drop(out);
            fs::rename(&tmp, &path)
        })();
        if let Err(err) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
        let mut state = lock(&self.state);
        if state.closed {
            drop(state);
            let _ = fs::remove_file(&path);
            return Err(io::Error::other("the runtime shut down"));
        }
        state.files.insert(number, path.clone());
        Ok(path)
    }

    /// Deletes our file `number` (if shutdown has not already).
    fn delete(&self, number: u64) {
        let mut state = lock(&self.state);
        if let Some(path) = state.files.remove(&number) {
            remove_file(&path);
        }
    }

    /// Shutdown: deletes every file of ours that is left, then our
    /// directory if it is empty, then the parent if we created it and it
    /// is empty.
    pub(crate) fn remove(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        for (_, path) in state.files.drain() {
            remove_file(&path);
        }
        if !state.ready {
            return;
        }
        if let Err(err) = fs::remove_dir(&self.path) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(%err, dir = %self.path.display(), "could not remove the spill directory (files of others in it?)");
            }
        }
        if state.created_parent {
            // Fails, and is meant to, while other runtimes spill there.
            let _ = fs::remove_dir(&self.parent);
        }
    }
}

fn remove_file(path: &Path) {
    if let Err(err) = fs::remove_file(path) {
        if err.kind() != io::ErrorKind::NotFound {
            tracing::warn!(%err, file = %path.display(), "could not delete a spill file");
        }
    }
}

/// One file on disk, shared by the [`SpillFile`]s of the objects in it;
/// deleted with the last of them.
struct DiskFile {
    store: Arc<Store>,
    number: u64,
    path: PathBuf,
}

impl Drop for DiskFile {
    fn drop(&mut self) {
        self.store.spill_dir().delete(self.number);
    }
}

/// One spilled object: its record in a file, and the handles of what its
/// refs point to.
pub(crate) struct SpillFile {
    id: ObjectId,
    file: Arc<DiskFile>,
    /// Where the record (header first) starts.
    offset: u64,
    /// Bytes of the payload.
    size: u64,
    /// The type the value was stored as.
    type_id: TypeId,
    handles: Box<[Handle]>,
}

impl SpillFile {
    fn new(file: &Arc<DiskFile>, object: Encoded, offset: u64) -> SpillFile {
        let size = object.len();
        file.store.account_spilled(size, true);
        SpillFile {
            id: object.id,
            file: Arc::clone(file),
            offset,
            size,
            type_id: object.type_id,
            handles: object.handles.into_boxed_slice(),
        }
    }

    /// Bytes of the object's serialized form.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the value was stored as a `T`.
    pub(crate) fn is<T: 'static>(&self) -> bool {
        self.type_id == TypeId::of::<T>()
    }

    /// The file, the record's offset in it and the record's length (header
    /// and payload).
    pub(crate) fn location(&self) -> (PathBuf, u64, u64) {
        (self.file.path.clone(), self.offset, HEADER + self.size)
    }

    /// The object's serialized form, checked against its header.
    pub(crate) fn read(&self) -> Result<Vec<u8>> {
        let lost = |reason: String| Error::ObjectLost {
            object: self.id.to_string(),
            reason: format!(
                "spill file {} (record at byte {}): {reason}",
                self.file.path.display(),
                self.offset
            ),
        };
        let short = |what: &str, e: io::Error| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                lost(format!("truncated: the file ends inside the {what}"))
            } else {
                lost(format!("{what} unreadable: {e}"))
            }
        };
        let mut file =
            fs::File::open(&self.file.path).map_err(|e| lost(format!("cannot open: {e}")))?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| lost(format!("cannot seek: {e}")))?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact(&mut header)
            .map_err(|e| short("header", e))?;
        if &header[..8] != MAGIC {
            return Err(lost("not a spill record (bad magic)".to_string()));
        }
        let (runtime, index) = (le_u64(&header[8..16]), le_u64(&header[16..24]));
        if runtime != self.id.runtime().as_u64() || index != self.id.index() {
            return Err(lost(format!(
                "the header names object obj-{runtime:016x}-{index}, not this one"
            )));
        }
        let len = le_u64(&header[24..32]);
        if len != self.size {
            return Err(lost(format!(
                "length {len} where {} was written",
                self.size
            )));
        }
        let mut payload = Vec::with_capacity(self.size as usize);
        (&mut file)
            .take(len)
            .read_to_end(&mut payload)
            .map_err(|e| short("payload", e))?;
        if payload.len() as u64 != len {
            return Err(lost(format!(
                "truncated: {} of {len} payload bytes",
                payload.len()
            )));
        }
        let crc = u32::from_le_bytes([header[32], header[33], header[34], header[35]]);
        if checksum(&header[8..32], &payload) != crc {
            return Err(lost("checksum mismatch (corrupt file)".to_string()));
        }
        Ok(payload)
    }

    /// Decodes `bytes` (from [`read`](Self::read)) as a `T`, handing the
    /// decoder the handles the encoding left, in order.
    pub(crate) fn decode<T: Object>(&self, store: &Store, bytes: &[u8]) -> Result<T> {
        handoff::with_handles(&self.handles, || store.decode(bytes))
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        self.file.store.account_spilled(self.size, false);
    }
}

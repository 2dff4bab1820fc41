//! [`TaskId`], [`ActorId`] and [`NodeId`]: the names of one task, of one
//! actor and of the node they run on.
//!
//! Locally, a task's and an actor's id are their runtime's id and their
//! number there. On a Ray cluster they are Ray's own ids (what
//! `ray.get_runtime_context()` and Ray's dashboard show), so that every
//! process names a Ray actor alike: a handle's [`id`](crate::ActorHandle::id)
//! on the driver equals [`Context::actor_id`](crate::Context::actor_id) in
//! the actor's Ray worker.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::object::RuntimeId;

/// The length of Ray's task ids, in bytes.
pub(crate) const RAY_TASK_ID_LEN: usize = 24;
/// The length of Ray's actor ids, in bytes.
pub(crate) const RAY_ACTOR_ID_LEN: usize = 16;

/// Identifies a task (or actor call): its runtime and its number there, or
/// Ray's task id for a task running on a Ray cluster.
///
/// Its `Display` is `task-<runtime>-<n>`, or Ray's hex id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId(TaskRepr);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
enum TaskRepr {
    Local {
        runtime: RuntimeId,
        index: u64,
    },
    /// A Ray task, run by the worker-mode runtime as its task `index`.
    Ray {
        index: u64,
        ray: [u8; RAY_TASK_ID_LEN],
    },
}

impl TaskId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        TaskId(TaskRepr::Local { runtime, index })
    }

    /// This task, as Ray's task `ray` (when the runtime runs one attempt
    /// of it for Ray).
    pub(crate) fn on_ray(self, ray: Option<[u8; RAY_TASK_ID_LEN]>) -> Self {
        match ray {
            Some(ray) => TaskId(TaskRepr::Ray {
                index: self.index(),
                ray,
            }),
            None => self,
        }
    }

    /// The task's number within the runtime that runs it.
    pub fn index(&self) -> u64 {
        match self.0 {
            TaskRepr::Local { index, .. } | TaskRepr::Ray { index, .. } => index,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            TaskRepr::Local { runtime, index } => {
                write!(f, "task-{:016x}-{index}", runtime.as_u64())
            }
            TaskRepr::Ray { ray, .. } => write_hex(f, ray),
        }
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies an actor: its runtime and its number there, or Ray's actor
/// id for a Ray actor.
///
/// Its `Display` is `actor-<runtime>-<n>`, or Ray's hex id. Two ids of a
/// Ray actor are equal whatever runtime holds them.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub struct ActorId(ActorRepr);

#[derive(Clone, Copy, Serialize, Deserialize)]
enum ActorRepr {
    Local {
        runtime: RuntimeId,
        index: u64,
    },
    /// A Ray actor, by Ray's id, as a handle in `runtime` names it.
    Ray {
        runtime: RuntimeId,
        ray: [u8; RAY_ACTOR_ID_LEN],
    },
}

impl ActorId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        ActorId(ActorRepr::Local { runtime, index })
    }

    /// The Ray actor whose hex id is `hex`, as a handle in `runtime` names
    /// it; `None` if `hex` is not an actor id.
    #[cfg_attr(not(feature = "ray"), allow(dead_code))]
    pub(crate) fn ray(runtime: RuntimeId, hex: &str) -> Option<Self> {
        parse_hex(hex).map(|ray| ActorId(ActorRepr::Ray { runtime, ray }))
    }

    /// The runtime that owns the actor; for a Ray actor, the runtime whose
    /// handle this id came from.
    pub fn runtime(&self) -> RuntimeId {
        match self.0 {
            ActorRepr::Local { runtime, .. } | ActorRepr::Ray { runtime, .. } => runtime,
        }
    }

    /// The actor's number within its runtime; 0 for a Ray actor.
    pub fn index(&self) -> u64 {
        match self.0 {
            ActorRepr::Local { index, .. } => index,
            ActorRepr::Ray { .. } => 0,
        }
    }

    /// What equality, order and hashing compare: a Ray actor's id, whatever
    /// runtime names it.
    fn key(&self) -> Result<(RuntimeId, u64), [u8; RAY_ACTOR_ID_LEN]> {
        match self.0 {
            ActorRepr::Local { runtime, index } => Ok((runtime, index)),
            ActorRepr::Ray { ray, .. } => Err(ray),
        }
    }
}

impl PartialEq for ActorId {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ActorId {}

impl std::hash::Hash for ActorId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for ActorId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ActorId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ActorRepr::Local { runtime, index } => {
                write!(f, "actor-{:016x}-{index}", runtime.as_u64())
            }
            ActorRepr::Ray { ray, .. } => write_hex(f, ray),
        }
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies a node: the machine (locally, the process) a task runs on.
/// Locally every task of every runtime in a process runs on one node, the
/// process's; on a Ray cluster it is Ray's node id (hex, as
/// `ray.get_runtime_context().get_node_id()` gives it).
///
/// ```
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// #[rustyray::remote]
/// fn where_am_i() -> rustyray::NodeId {
///     rustyray::context().node_id()
/// }
/// let there = rustyray::get(&where_am_i::remote()?)?;
/// assert_eq!(there, rustyray::context().node_id()); // one node locally
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|hex| NodeId(hex.into()))
    }
}

impl NodeId {
    /// The node of Ray's hex node id `hex`.
    #[cfg_attr(not(feature = "ray"), allow(dead_code))]
    pub(crate) fn from_hex(hex: &str) -> Self {
        NodeId(hex.into())
    }

    /// This process's own node: 128 bits drawn once per process (from the
    /// OS-seeded keys of `RandomState`, the process id and the time).
    pub(crate) fn this_process() -> Self {
        static NODE: OnceLock<NodeId> = OnceLock::new();
        NODE.get_or_init(|| {
            let draw = |salt: u64| {
                let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
                hasher.write_u64(salt);
                hasher.write_u32(std::process::id());
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
                hasher.finish()
            };
            NodeId(format!("{:016x}{:016x}", draw(1), draw(2)).into())
        })
        .clone()
    }

    /// The id as hex text.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// The `N` bytes that `hex` spells (`2 * N` hex digits); `None` otherwise.
#[cfg_attr(not(feature = "ray"), allow(dead_code))]
pub(crate) fn parse_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_ids_print_as_ray_prints_them() {
        let (runtime, _) = RuntimeId::next();
        let (elsewhere, _) = RuntimeId::next();
        let hex = "00112233445566778899aabbccddeeff";
        let actor = ActorId::ray(runtime, hex).unwrap();
        assert_eq!(actor.to_string(), hex);
        assert_eq!(actor.runtime(), runtime);
        // Every runtime names a Ray actor alike.
        assert_eq!(ActorId::ray(elsewhere, hex), Some(actor));
        let hasher = std::collections::hash_map::RandomState::new();
        let there = ActorId::ray(elsewhere, hex).unwrap();
        assert_eq!(hasher.hash_one(actor), hasher.hash_one(there));
        assert_ne!(
            Some(actor),
            ActorId::ray(runtime, "00112233445566778899aabbccddeef0")
        );
        assert_eq!(ActorId::ray(runtime, &hex[2..]), None);
        assert_eq!(ActorId::ray(runtime, &hex.replace('0', "g")), None);
        let task_hex = "0123456789abcdef0123456789abcdef0123456789abcdef";
        let task = TaskId::new(runtime, 7).on_ray(parse_hex(task_hex));
        assert_eq!(task.to_string(), task_hex);
        assert_eq!(task.index(), 7);
        assert_ne!(task, TaskId::new(runtime, 7));
    }

    #[test]
    fn one_process_is_one_node() {
        let node = NodeId::this_process();
        assert_eq!(node, NodeId::this_process());
        assert_eq!(node.hex().len(), 32);
        assert_ne!(node, NodeId::from_hex("ab"));
    }
}

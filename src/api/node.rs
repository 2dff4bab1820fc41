//! [`Context::node_id`]: the node code runs on. Only the API layer knows
//! it: the runtime in scope may run on a Ray cluster, and this process may
//! be a Ray worker.

use crate::task::context::Context;
use crate::task::NodeId;

impl Context {
    /// The node this code runs on: inside a Ray worker, Ray's node of that
    /// worker; on a driver whose runtime in scope runs on a Ray cluster,
    /// the driver's Ray node; otherwise this process's node (locally every
    /// task of every runtime in a process runs on one node).
    pub fn node_id(&self) -> NodeId {
        #[cfg(feature = "ray")]
        if let Some(node) = crate::api::ray::ray_node() {
            return node;
        }
        NodeId::this_process()
    }
}

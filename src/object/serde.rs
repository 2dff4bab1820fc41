//! Serde for [`ObjectRef`]: ids out, the scoped runtime's object in.
//!
//! A ref is encoded as its [`ObjectId`] (runtime id + index) and the cell is
//! exported into its store's id table, so the ref can be found again while
//! the object lives. Decoding reads the runtime installed in the current
//! context (see [`crate::runtime`]) and looks the id up in *that* runtime's
//! store: a ref decoded inside a task binds to the runtime running the task.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::object::id::ObjectId;
use crate::object::ObjectRef;
use crate::runtime::context;

impl<T> Serialize for ObjectRef<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.cell.export();
        self.id().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = ObjectId::deserialize(deserializer)?;
        let cell = context::with_current(|runtime| match runtime {
            None => Err(format!(
                "cannot decode ObjectRef {id}: no RustyRay runtime in scope (decode inside \
                 `Runtime::enter`, `Runtime::scope` or a task)"
            )),
            Some(rt) if rt.id() != id.runtime() => Err(format!(
                "cannot decode ObjectRef {id}: it belongs to runtime {}, but runtime {} ({}) is \
                 in scope",
                id.runtime(),
                rt.id(),
                rt.name()
            )),
            Some(rt) => rt.store().lookup(id).map_err(|e| e.to_string()),
        })
        .map_err(D::Error::custom)?;
        Ok(ObjectRef::from_cell(cell))
    }
}

//! What the store holds, object by object, for
//! [`list_objects`](crate::state::list_objects).

use crate::object::id::ObjectId;
use crate::object::store::Store;

/// Where an object's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectLocation {
    /// In memory, under the store's limit.
    Memory,
    /// Spilled to a file in the runtime's spill directory.
    Disk,
}

/// One object of a runtime's store, as [`list_objects`](crate::state::list_objects)
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectState {
    /// The object's id.
    pub id: ObjectId,
    /// The bytes of its value's serialized (postcard) form: what the store
    /// counts against its memory limit (see [`MemoryStats`](crate::MemoryStats)).
    pub size: u64,
    /// Where its value is now.
    pub location: ObjectLocation,
}

impl Store {
    /// Every object this store tracks that holds a value, by id. Small
    /// plain values (numbers, short strings: under [`Store::TRACK_MIN`]
    /// bytes) put directly are not tracked, so not listed.
    pub(crate) fn list_objects(&self) -> Vec<ObjectState> {
        let mut objects: Vec<ObjectState> = self
            .live_cells()
            .iter()
            .filter_map(|cell| {
                let (size, location) = cell.stored()?;
                Some(ObjectState {
                    id: cell.id(),
                    size,
                    location,
                })
            })
            .collect();
        objects.sort_by_key(|o| o.id.index());
        objects
    }
}

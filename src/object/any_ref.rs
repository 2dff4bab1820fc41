//! [`AnyRef`]: a ref whose value type is left out, so that refs of
//! different types go into one [`wait_mixed`](crate::wait_mixed).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::object::cell::ObjectCell;
use crate::object::{ObjectId, ObjectRef};

/// An untyped view of an [`ObjectRef`]: the same object, without its value
/// type, so that refs to values of different types fit in one slice for
/// [`wait_mixed`](crate::wait_mixed) (Ray's `ray.wait` over any refs).
/// Get the typed ref back with [`typed`](Self::typed) to read the value.
///
/// `Clone`, `Debug`, and `Eq` + `Hash` by object id, like the ref it views;
/// it keeps the object alive like that ref.
///
/// ```
/// use rustyray::AnyRef;
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let n = rustyray::put(7u32)?;
/// let s = rustyray::put(String::from("seven"))?;
/// let refs: Vec<AnyRef> = vec![n.untyped(), AnyRef::from(&s)];
/// let (ready, pending) = rustyray::wait_mixed(&refs, 2, None)?;
/// assert_eq!((ready.len(), pending.len()), (2, 0));
/// assert_eq!(ready[1].typed::<String>().get()?, "seven");
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone)]
pub struct AnyRef {
    pub(crate) cell: Arc<ObjectCell>,
}

impl AnyRef {
    /// The object's id.
    pub fn id(&self) -> ObjectId {
        self.cell.id()
    }

    /// Whether the object is complete (with a value or an error).
    pub fn is_ready(&self) -> bool {
        self.cell.is_complete()
    }

    /// The typed ref to the same object. Reading it as another type than
    /// the object's is an error ([`Error::Serialization`](crate::Error)),
    /// never another type's value.
    pub fn typed<T>(&self) -> ObjectRef<T> {
        ObjectRef::from_cell(Arc::clone(&self.cell))
    }
}

impl<T> ObjectRef<T> {
    /// The untyped view of this ref (see [`AnyRef`]).
    pub fn untyped(&self) -> AnyRef {
        AnyRef {
            cell: Arc::clone(&self.cell),
        }
    }
}

impl<T> From<ObjectRef<T>> for AnyRef {
    fn from(r: ObjectRef<T>) -> Self {
        AnyRef { cell: r.cell }
    }
}

impl<T> From<&ObjectRef<T>> for AnyRef {
    fn from(r: &ObjectRef<T>) -> Self {
        r.untyped()
    }
}

impl PartialEq for AnyRef {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for AnyRef {}

impl Hash for AnyRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for AnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyRef({})", self.id())
    }
}

//! `wait` and `get_all` over refs of different types: [`wait_mixed`] (over
//! [`AnyRef`]s) and [`get_mixed`] (over a tuple of refs).

use std::time::Duration;

use crate::error::Result;
use crate::object::wait::{settle_all, wait_refs};
use crate::object::{AnyRef, Object, ObjectRef};

/// [`wait`](crate::wait) over refs of different types, each as an
/// [`AnyRef`] (`r.untyped()`): waits until `num_ready` are complete, or
/// `timeout`; `(ready, pending)`, each in input order. The same rules as
/// `wait` (Ray's `ray.wait`, which takes refs of any type).
///
/// ```
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let a = rustyray::put(1u8)?;
/// let b = rustyray::put(vec![2.0f64])?;
/// let (ready, _) = rustyray::wait_mixed(&[a.untyped(), b.untyped()], 1, None)?;
/// assert_eq!(ready, vec![a.untyped()]);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn wait_mixed(
    refs: &[AnyRef],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Result<(Vec<AnyRef>, Vec<AnyRef>)> {
    let typed: Vec<ObjectRef<()>> = refs.iter().map(AnyRef::typed).collect();
    let (ready, pending) = wait_refs(&typed, num_ready, timeout)?;
    Ok((
        ready.into_iter().map(AnyRef::from).collect(),
        pending.into_iter().map(AnyRef::from).collect(),
    ))
}

/// [`get_all`](crate::get_all) over refs of different types: a tuple of
/// refs (`(&a, &b)`, up to 8) gives the tuple of their values, once all
/// are ready; the first error that completes wins, as in `get_all`.
///
/// ```
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let n = rustyray::put(3u32)?;
/// let s = rustyray::put(String::from("three"))?;
/// let (n, s) = rustyray::get_mixed((&n, &s))?;
/// assert_eq!((n, s.as_str()), (3, "three"));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn get_mixed<Refs: RefTuple>(refs: Refs) -> Result<Refs::Values> {
    let untyped = refs.untyped();
    let typed: Vec<ObjectRef<()>> = untyped.iter().map(AnyRef::typed).collect();
    settle_all(&typed)?;
    refs.values()
}

/// A tuple of refs (`(&ObjectRef<A>, &ObjectRef<B>, ..)`, up to 8) that
/// [`get_mixed`] reads.
pub trait RefTuple {
    /// The tuple of their values.
    type Values;

    /// Each ref, untyped.
    #[doc(hidden)]
    fn untyped(&self) -> Vec<AnyRef>;

    /// Each value (the refs are complete).
    #[doc(hidden)]
    fn values(&self) -> Result<Self::Values>;
}

macro_rules! ref_tuple {
    ($($name:ident $idx:tt),*) => {
        impl<$($name: Object),*> RefTuple for ($(&ObjectRef<$name>,)*) {
            type Values = ($($name,)*);

            fn untyped(&self) -> Vec<AnyRef> {
                vec![$(self.$idx.untyped()),*]
            }

            fn values(&self) -> Result<Self::Values> {
                Ok(($(self.$idx.get()?,)*))
            }
        }
    };
}

ref_tuple!(A 0);
ref_tuple!(A 0, B 1);
ref_tuple!(A 0, B 1, C 2);
ref_tuple!(A 0, B 1, C 2, D 3);
ref_tuple!(A 0, B 1, C 2, D 3, E 4);
ref_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
ref_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
ref_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

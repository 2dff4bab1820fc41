//! Task arguments: a value, or a ref to one that becomes a dependency.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::{Object, ObjectRef};

/// One argument of a remote call, as submitted.
pub struct Arg<T>(Inner<T>);

enum Inner<T> {
    /// Moved in with the call; taken by the (only) attempt.
    Value(Option<T>),
    /// A ref: a dependency, resolved when the task runs.
    Ref(ObjectRef<T>),
}

impl<T: Object> Arg<T> {
    /// The ref the task waits for, if this argument is one.
    pub(crate) fn dependency(&self) -> Option<&Arc<ObjectCell>> {
        match &self.0 {
            Inner::Ref(r) => Some(&r.cell),
            Inner::Value(_) => None,
        }
    }

    /// Puts a by-value argument into the store so that every attempt of a
    /// retried task reads its own copy.
    pub(crate) fn make_reusable(&mut self, store: &Keep<'_>) -> Result<()> {
        if let Inner::Value(value) = &mut self.0 {
            if let Some(value) = value.take() {
                self.0 = Inner::Ref(ObjectRef::from_cell(store.0.put(Value::new(value))?));
            }
        }
        Ok(())
    }

    /// The argument's value for one attempt (dependencies are complete by
    /// then).
    pub(crate) fn take(&mut self) -> Result<T> {
        match &mut self.0 {
            Inner::Value(value) => value
                .take()
                .ok_or_else(|| Error::serialization("a by-value task argument was consumed twice")),
            Inner::Ref(r) => match r.cell.try_get() {
                Some(outcome) => outcome?.read(&r.cell),
                None => Err(Error::serialization("a task ran before its dependency")),
            },
        }
    }
}

/// One argument as a Ray task receives it: its encoded value (with the
/// refs inside it, apart), or the ref Ray resolves (feature `ray`).
#[cfg(feature = "ray")]
#[doc(hidden)]
pub struct RayArg(pub(crate) RayArgKind);

/// What a [`RayArg`] is.
#[cfg(feature = "ray")]
pub(crate) enum RayArgKind {
    Value(crate::object::crossing::Crossed),
    Ref(Arc<ObjectCell>),
}

#[cfg(feature = "ray")]
impl<T: Object> Arg<T> {
    fn ray_arg(&mut self) -> Result<RayArg> {
        match &mut self.0 {
            Inner::Value(value) => match value.as_ref() {
                Some(value) => crate::object::crossing::encode("remote", value)
                    .map(|crossed| RayArg(RayArgKind::Value(crossed))),
                None => Err(Error::serialization(
                    "a by-value task argument was consumed twice",
                )),
            },
            Inner::Ref(r) => Ok(RayArg(RayArgKind::Ref(Arc::clone(&r.cell)))),
        }
    }
}

/// What a remote function accepts for an argument of type `T`: the value,
/// an `ObjectRef<T>`, or a `&ObjectRef<T>` (and a `&str` for a `String`).
///
/// Pass the value itself, not `value.into()`: the argument's type is not
/// one type but any of these, so rustc cannot tell what `.into()` should
/// make (error E0283, "type annotations needed"). Convert first
/// (`i64::from(x)`, `x.to_string()`), then pass the result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed where the remote function expects `{T}`",
    label = "expected `{T}`, `ObjectRef<{T}>` or `&ObjectRef<{T}>`",
    note = "pass the value itself, an `ObjectRef` of it, or a reference to such a ref"
)]
pub trait IntoArg<T> {
    /// Converts into an argument.
    fn into_arg(self) -> Arg<T>;
}

impl<T: Object> IntoArg<T> for T {
    fn into_arg(self) -> Arg<T> {
        Arg(Inner::Value(Some(self)))
    }
}

impl<T: Object> IntoArg<T> for ObjectRef<T> {
    fn into_arg(self) -> Arg<T> {
        Arg(Inner::Ref(self))
    }
}

impl<T: Object> IntoArg<T> for &ObjectRef<T> {
    fn into_arg(self) -> Arg<T> {
        Arg(Inner::Ref(self.clone()))
    }
}

/// A string literal (or any `&str`) where a `String` is expected: copied
/// into a `String`, so `greet::remote("world")` needs no `.to_string()`.
impl IntoArg<String> for &str {
    fn into_arg(self) -> Arg<String> {
        Arg(Inner::Value(Some(self.to_string())))
    }
}

/// Where arguments are kept when they must outlive one attempt (see
/// [`ArgList::make_reusable`]).
#[doc(hidden)]
pub struct Keep<'a>(pub(crate) &'a Arc<Store>);

/// The refs a call depends on, collected by [`ArgList::dependencies`].
#[doc(hidden)]
#[derive(Default)]
pub struct Dependencies(pub(crate) Vec<Arc<ObjectCell>>);

/// A tuple of argument values, as a call by name decodes them: each
/// becomes a by-value [`Arg`].
#[doc(hidden)]
pub trait ValueList: serde::de::DeserializeOwned + Send + 'static {
    /// The arguments that pass these values.
    type Args: ArgList<Values = Self>;
    /// Each value as a by-value argument.
    fn into_args(self) -> Self::Args;
}

/// A tuple of [`Arg`]s: everything one call passes.
#[doc(hidden)]
pub trait ArgList: Send + 'static {
    /// The tuple of argument values the function receives.
    type Values: Send + 'static;
    /// Appends the cells this call depends on.
    fn dependencies(&self, out: &mut Dependencies);
    /// See [`Arg::make_reusable`].
    fn make_reusable(&mut self, store: &Keep<'_>) -> Result<()>;
    /// The values for one attempt.
    fn take(&mut self) -> Result<Self::Values>;
    /// Each argument as a Ray task receives it.
    #[cfg(feature = "ray")]
    fn ray_args(&mut self) -> Result<Vec<RayArg>>;
}

macro_rules! arg_list {
    ($($name:ident),*) => {
        impl<$($name: Object),*> ArgList for ($(Arg<$name>,)*) {
            type Values = ($($name,)*);

            #[allow(unused_variables)]
            fn dependencies(&self, out: &mut Dependencies) {
                #[allow(non_snake_case)]
                let ($($name,)*) = self;
                $(if let Some(cell) = $name.dependency() { out.0.push(Arc::clone(cell)); })*
            }

            #[allow(unused_variables)]
            fn make_reusable(&mut self, store: &Keep<'_>) -> Result<()> {
                #[allow(non_snake_case)]
                let ($($name,)*) = self;
                $($name.make_reusable(store)?;)*
                Ok(())
            }

            fn take(&mut self) -> Result<Self::Values> {
                #[allow(non_snake_case)]
                let ($($name,)*) = self;
                Ok(($($name.take()?,)*))
            }

            #[cfg(feature = "ray")]
            fn ray_args(&mut self) -> Result<Vec<RayArg>> {
                #[allow(non_snake_case)]
                let ($($name,)*) = self;
                Ok(vec![$($name.ray_arg()?),*])
            }
        }

        impl<$($name: Object),*> ValueList for ($($name,)*) {
            type Args = ($(Arg<$name>,)*);

            #[allow(clippy::unused_unit)]
            fn into_args(self) -> Self::Args {
                #[allow(non_snake_case)]
                let ($($name,)*) = self;
                ($(Arg(Inner::Value(Some($name))),)*)
            }
        }
    };
}

arg_list!();
arg_list!(A);
arg_list!(A, B);
arg_list!(A, B, C);
arg_list!(A, B, C, D);
arg_list!(A, B, C, D, E);
arg_list!(A, B, C, D, E, F);
arg_list!(A, B, C, D, E, F, G);
arg_list!(A, B, C, D, E, F, G, H);
arg_list!(A, B, C, D, E, F, G, H, I);
arg_list!(A, B, C, D, E, F, G, H, I, J);
arg_list!(A, B, C, D, E, F, G, H, I, J, K);
arg_list!(A, B, C, D, E, F, G, H, I, J, K, L);

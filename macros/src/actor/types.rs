//! The type rules of constructor and method signatures.
//!
//! An actor call runs later, on the actor's thread, with arguments that may
//! come from the object store, and its result is stored as an object. So
//! every argument and result type must be owned and `'static` (no
//! references, no lifetimes other than `'static`) and concrete (no
//! `impl Trait`). [`check_owned`] reports each offender at its span.
//!
//! `Self` means the actor inside the user's `impl`, but the generated code
//! sits in other impls (the handle's, the options builder's) and in nested
//! helper functions where `Self` means something else or nothing at all, so
//! [`replace_self`] spells it out first.
//!
//! These rules are the ones `#[rustyray::remote]` applies (shared in
//! `types.rs`), worded for actors.

use proc_macro2::Span;
use syn::{GenericArgument, Path, PathArguments, Type};

use crate::types::Wording;
pub use crate::types::{check_owned, err_type, ok_type, strip_group, to_string};

/// What an actor signature part is, for the wording of its errors.
#[derive(Clone, Copy, PartialEq)]
pub enum Position {
    /// An argument of a constructor.
    ConstructorArgument,
    /// An argument of a method.
    MethodArgument,
    /// A method's result (the `T` of `ObjectRef<T>`).
    Result,
}

/// The message for a generic method or constructor.
pub const GENERIC_MSG: &str = "#[rustyray::actor] methods cannot be generic: each handle \
     method submits one concrete call to the actor; write a non-generic method (it may call a \
     generic one marked `#[rustyray(local)]`)";

/// The message for a lifetime in a signature.
pub const LIFETIME_MSG: &str = "#[rustyray::actor] methods cannot borrow: the call runs later, \
     on the actor's thread, so arguments and results must be owned `'static` types (`String`, \
     `Vec<T>`, …); callers may pass an `ObjectRef` to share a value without copying it";

impl Wording for Position {
    const LIFETIME_MSG: &'static str = LIFETIME_MSG;

    fn reference_msg(self, owned: &str) -> String {
        match self {
            Position::ConstructorArgument | Position::MethodArgument => {
                let what = match self {
                    Position::ConstructorArgument => "constructor",
                    _ => "method",
                };
                format!(
                    "#[rustyray::actor] {what} arguments cannot be references: the call \
                     runs later, on the actor's thread, and cannot borrow from its caller; \
                     take an owned `{owned}` instead (callers may still pass an \
                     `ObjectRef<{owned}>` to share a value without copying it)"
                )
            }
            Position::Result => format!(
                "a #[rustyray::actor] method cannot return a reference: its result is \
                 stored as an owned object; return `{owned}` instead"
            ),
        }
    }

    fn impl_trait_msg(self) -> &'static str {
        match self {
            Position::Result => {
                "a #[rustyray::actor] method must return a concrete type, not `impl Trait`: \
                 its result is stored as an object of one known type"
            }
            _ => GENERIC_MSG,
        }
    }
}

/// `ty` with every `Self` replaced by `actor` (the path of the actor type),
/// spanned where `Self` was written.
pub fn replace_self(ty: &Type, actor: &Path) -> Type {
    let mut ty = ty.clone();
    replace_self_in(&mut ty, actor);
    ty
}

fn replace_self_in(ty: &mut Type, actor: &Path) {
    match ty {
        Type::Reference(reference) => replace_self_in(&mut reference.elem, actor),
        Type::Paren(inner) => replace_self_in(&mut inner.elem, actor),
        Type::Group(inner) => replace_self_in(&mut inner.elem, actor),
        Type::Array(array) => replace_self_in(&mut array.elem, actor),
        Type::Slice(slice) => replace_self_in(&mut slice.elem, actor),
        Type::Ptr(ptr) => replace_self_in(&mut ptr.elem, actor),
        Type::Tuple(tuple) => {
            for elem in &mut tuple.elems {
                replace_self_in(elem, actor);
            }
        }
        Type::Path(path) => {
            if let Some(qself) = &mut path.qself {
                replace_self_in(&mut qself.ty, actor);
            }
            for segment in &mut path.path.segments {
                if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        if let GenericArgument::Type(ty) = arg {
                            replace_self_in(ty, actor);
                        }
                    }
                }
            }
            let starts_with_self = path.qself.is_none()
                && path.path.leading_colon.is_none()
                && path.path.segments[0].ident == "Self";
            if starts_with_self {
                let span = path.path.segments[0].ident.span();
                let mut replacement = respan(actor, span);
                replacement
                    .segments
                    .extend(path.path.segments.iter().skip(1).cloned());
                path.path = replacement;
            }
        }
        _ => {}
    }
}

/// `path` with every identifier spanned at `span`.
fn respan(path: &Path, span: Span) -> Path {
    let mut path = path.clone();
    for segment in &mut path.segments {
        segment.ident.set_span(span);
    }
    path
}

/// Whether `ty` names the actor itself: `Self`, or a path whose last
/// segment is the actor's name (without generic arguments).
pub fn is_self_type(ty: &Type, name: &str) -> bool {
    let Type::Path(path) = strip_group(ty) else {
        return false;
    };
    if path.qself.is_some() {
        return false;
    }
    if path.path.is_ident("Self") {
        return true;
    }
    path.path.segments.last().is_some_and(|last| {
        last.arguments.is_none() && syn::ext::IdentExt::unraw(&last.ident) == name
    })
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    fn ty(tokens: TokenStream) -> Type {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn self_is_spelled_out_everywhere() {
        let actor: Path = syn::parse_quote!(super::Counter);
        let replaced = replace_self(&ty(quote!(Vec<(Self, Option<Self>)>)), &actor);
        assert_eq!(
            to_string(&replaced),
            "Vec<(super::Counter, Option<super::Counter>)>"
        );
        let replaced = replace_self(&ty(quote!(<Self as Tr>::Out)), &actor);
        assert_eq!(to_string(&replaced), "<super::Counter as Tr>::Out");
    }

    #[test]
    fn the_actor_type_is_recognised() {
        assert!(is_self_type(&ty(quote!(Self)), "Counter"));
        assert!(is_self_type(&ty(quote!(crate::Counter)), "Counter"));
        assert!(!is_self_type(&ty(quote!(Counter<u8>)), "Counter"));
        assert!(!is_self_type(&ty(quote!(Option<Self>)), "Counter"));
    }
}

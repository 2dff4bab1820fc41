//! Every name the actor expansion generates, and the rules that keep them
//! apart from the user's.
//!
//! The struct's expansion and the `impl`'s never see each other: they meet
//! only through names derived from the struct's name (`Counter`), computed
//! here on both sides:
//!
//! - `CounterHandle`, the typed handle ([`handle_ident`]);
//! - `__rustyray_Counter_actor_options`, the builder `Counter::options()`
//!   returns ([`options_ident`]);
//! - `__rustyray_put_the_actor_attribute_on_struct_Counter`, the macro the
//!   `impl`'s items pass through ([`items_macro_ident`]), named so that the
//!   one error a user gets without the struct's attribute says what to do.
//!
//! The `impl` names the struct by a path (`Counter`, `super::Counter`); it
//! reaches those three as siblings of the struct ([`sibling`]). Each is
//! spanned at the struct's name, so an error about one points there.
//!
//! On the `impl` side, each constructor gets its creation functions' name
//! ([`name_constructors`]): `remote` for `new` (or the only constructor),
//! `remote_<ctor>` for the others. [`check_names`] reports the user's names
//! these would clash with: `options` and a `remote..` on the actor type,
//! `id` and `clone` on the handle.

use quote::format_ident;
use syn::ext::IdentExt;
use syn::{Ident, ImplItem, ItemImpl, Path, PathArguments};

use super::model::{ActorStruct, Constructor, Method};
use crate::ctxt::Ctxt;

impl ActorStruct {
    /// `CounterHandle`.
    pub fn handle_ident(&self) -> Ident {
        handle_ident(&self.ident)
    }

    /// `__rustyray_Counter_actor_options`.
    pub fn options_ident(&self) -> Ident {
        options_ident(&self.ident)
    }

    /// The macro the `impl`'s items pass through (see [`items_macro_ident`]).
    pub fn items_macro_ident(&self) -> Ident {
        items_macro_ident(&self.ident)
    }

    /// The struct's name without `r#`.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

/// The macro the struct's expansion defines and the `impl`'s expansion
/// passes its items through, spanned at `ident`. Named so that the one
/// error a user gets when the struct lacks the attribute says what to do.
pub fn items_macro_ident(ident: &Ident) -> Ident {
    format_ident!(
        "__rustyray_put_the_actor_attribute_on_struct_{}",
        ident.unraw(),
        span = ident.span()
    )
}

/// The handle type of the actor `ident`, spanned at it.
pub fn handle_ident(ident: &Ident) -> Ident {
    format_ident!("{}Handle", ident.unraw(), span = ident.span())
}

/// The options builder type of the actor `ident`, spanned at it.
pub fn options_ident(ident: &Ident) -> Ident {
    format_ident!(
        "__rustyray_{}_actor_options",
        ident.unraw(),
        span = ident.span()
    )
}

/// `ident` next to the actor, as the `impl` names the actor: `Counter` →
/// `ident`, `super::Counter` → `super::ident`.
pub fn sibling(actor: &Path, ident: Ident) -> Path {
    let mut path = actor.clone();
    if let Some(segment) = path.segments.last_mut() {
        segment.ident = ident;
        segment.arguments = PathArguments::None;
    }
    path
}

/// Gives each constructor its generated name: `remote` for `new`, or for
/// the only constructor when none is called `new`; `remote_<name>` for the
/// others.
pub fn name_constructors(constructors: &mut [Constructor]) {
    let has_new = constructors.iter().any(|c| c.ident == "new");
    let single = constructors.len() == 1;
    for c in constructors {
        let span = c.ident.span();
        c.remote = if c.ident == "new" || (single && !has_new) {
            Ident::new("remote", span)
        } else {
            format_ident!("remote_{}", c.ident.unraw(), span = span)
        };
    }
}

/// Reports user names that the generated code would clash with.
pub fn check_names(cx: &Ctxt, item: &ItemImpl, constructors: &[Constructor], methods: &[Method]) {
    // On the actor type: `options()` (from the struct) and the creation
    // functions.
    for impl_item in &item.items {
        let ident = match impl_item {
            ImplItem::Fn(f) => &f.sig.ident,
            ImplItem::Const(c) => &c.ident,
            _ => continue,
        };
        if ident == "options" {
            cx.error_spanned_by(
                ident,
                "#[rustyray::actor] generates `options()` on the actor (the builder for \
                 creating it with options); rename this function",
            );
        } else if let Some(c) = constructors.iter().find(|c| c.remote == *ident) {
            cx.error_spanned_by(
                ident,
                format!(
                    "#[rustyray::actor] generates `{}` on the actor (it creates the actor with \
                     the constructor `{}`); rename this function",
                    c.remote, c.ident
                ),
            );
        }
    }
    // On the handle: `id()` and `Clone::clone`.
    for method in methods {
        if method.ident == "id" {
            cx.error_spanned_by(
                &method.ident,
                "the actor's handle already has `id()` (the actor's id); rename this method, \
                 or mark it `#[rustyray(local)]`",
            );
        } else if method.ident == "clone" {
            cx.error_spanned_by(
                &method.ident,
                "a handle method `clone` would hide the handle's `Clone::clone`; rename this \
                 method, or mark it `#[rustyray(local)]`",
            );
        }
    }
}

//! Every rule an actor's struct or `impl` can break, each reported into the
//! [`Ctxt`] at the span that breaks it and saying what to write instead.
//!
//! The model ([`model`](super::model)) calls these as it reads the item, in
//! source order, so the errors come out in the order the user wrote the
//! mistakes; each function reports and returns what the model needs to
//! carry on (whether a rule held, the part it could make sense of).
//!
//! # What is checked
//!
//! An actor is created and found by its type (`get_actor::<Counter>`), so
//! neither the struct nor the `impl` may be generic, and the `impl` must be
//! the inherent one ([`struct_not_generic`], [`inherent_impl`],
//! [`impl_not_generic`], [`actor_path`], [`no_type_arguments`]). A function
//! of the `impl` without a receiver must be a constructor (returning
//! `Self`, or `Result<Self, E>`; [`no_receiver`]), not `async`
//! ([`constructor_not_async`]), and there must be at least one
//! ([`has_constructor`]); a method takes `&self` or `&mut self`
//! ([`receiver`]: a call cannot consume the state that later calls use).
//! Signatures follow the rules of remote functions ([`signature`],
//! [`argument_count`], and [`types`] for each type): no type,
//! const or lifetime parameters, no references or `impl Trait`, safe, Rust
//! ABI, at most [`MAX_ARGS`] arguments. A result is a visible `Result<T, E>`
//! or not one ([`visible_result`]), and `num_returns = N` needs an N-tuple
//! ([`split_result`]) on a method ([`constructor_settings`],
//! [`local_settings`]). Generated names must not clash with the user's:
//! those rules live with the names, in [`names`](super::names).
//!
//! What the macro cannot see (whether a type is `Serialize`, whether the
//! state is `Sync`, whether an error type is `Display`) is left to rustc;
//! the expansion places those checks so that rustc's error points at the
//! user's type (see [`expand`](super::expand)).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{GenericParam, Generics, Item, ItemImpl, Path, Type};

use super::model::{Constructor, Receiver};
use super::settings::Settings;
use super::types;
use crate::ctxt::Ctxt;
use crate::remote::MAX_ARGS;

const STRUCT_GENERIC_MSG: &str = "actors cannot be generic: #[rustyray::actor] generates one \
     concrete handle type for the struct, and `get_actor::<T>` finds actors by their type; \
     make the state concrete, or wrap a concrete instance (`struct IntCache { inner: \
     Cache<i64> }`)";

const STRUCT_LIFETIME_MSG: &str = "actors cannot borrow: the state lives on the actor's \
     thread for as long as the actor, so it must be `'static`; own the data instead (`String` \
     for `&'a str`, `Vec<T>` for `&'a [T]`, `Arc<T>` to share it)";

const IMPL_GENERIC_MSG: &str = "actors cannot be generic: #[rustyray::actor] goes on the \
     inherent `impl` of a concrete struct (`impl Counter { .. }`), whose handle is one concrete \
     type";

const NO_RECEIVER_MSG: &str = "#[rustyray::actor] methods need a receiver (`&self` or `&mut \
     self`); an associated function without one must be a constructor returning `Self` (or \
     `Result<Self, E>`); mark a local helper `#[rustyray(local)]` to keep it off the handle";

const BY_VALUE_MSG: &str = "#[rustyray::actor] methods take `&self` or `&mut self`: the actor \
     keeps its state between calls, so a call cannot consume it; to stop the actor, use \
     `rustyray::kill(&handle)` (or drop every handle of an unnamed actor)";

/// Reports an item that is neither a struct nor an `impl` block, saying
/// what to do with it instead.
pub fn item_kind(cx: &Ctxt, item: &Item) {
    match item {
        Item::Struct(_) | Item::Impl(_) => {}
        Item::Enum(item) => {
            let (token, ident) = (&item.enum_token, &item.ident);
            cx.error_spanned_by(
                quote!(#token #ident),
                format!(
                    "#[rustyray::actor] goes on a struct (the actor's state) and on its \
                     `impl` block, not on an enum; wrap the enum in a struct: \
                     `struct {ident}Actor {{ state: {ident} }}`"
                ),
            );
        }
        Item::Union(item) => {
            let (token, ident) = (&item.union_token, &item.ident);
            cx.error_spanned_by(
                quote!(#token #ident),
                "#[rustyray::actor] goes on a struct (the actor's state) and on its \
                 `impl` block, not on a union",
            );
        }
        Item::Fn(item) => {
            cx.error_spanned_by(
                &item.sig,
                "#[rustyray::actor] goes on a struct and on its `impl` block; to run a \
                 function as a task, use #[rustyray::remote]",
            );
        }
        other => {
            cx.error_spanned_by(
                other,
                "#[rustyray::actor] goes on a struct (the actor's state) and on its \
                 `impl` block (its constructors and methods)",
            );
        }
    }
}

/// The state struct has no type, const or lifetime parameters (a lifetime
/// gets its own message: the state cannot borrow).
pub fn struct_not_generic(cx: &Ctxt, generics: &Generics) {
    let only_lifetimes = generics
        .params
        .iter()
        .all(|param| matches!(param, GenericParam::Lifetime(_)));
    let msg = if only_lifetimes {
        STRUCT_LIFETIME_MSG
    } else {
        STRUCT_GENERIC_MSG
    };
    not_generic(cx, generics, msg);
}

/// The `impl` is not a trait impl; `false` when it is (reported).
pub fn inherent_impl(cx: &Ctxt, item: &ItemImpl) -> bool {
    let Some((_, path, _)) = &item.trait_ else {
        return true;
    };
    cx.error_spanned_by(
        path,
        "#[rustyray::actor] goes on the actor's inherent `impl` block \
         (`impl Counter { .. }`), not on a trait impl: its methods become the \
         handle's; call trait methods from an inherent method",
    );
    false
}

/// The `impl` has no parameters of its own; whether it had (reported).
pub fn impl_not_generic(cx: &Ctxt, generics: &Generics) -> bool {
    not_generic(cx, generics, IMPL_GENERIC_MSG)
}

/// The actor type as the `impl` names it: a plain path (`Counter`,
/// `super::Counter`); anything else is reported.
pub fn actor_path(cx: &Ctxt, self_ty: &Type) -> Option<Path> {
    match self_ty {
        Type::Path(path) if path.qself.is_none() => Some(path.path.clone()),
        other => {
            cx.error_spanned_by(
                other,
                "#[rustyray::actor] goes on the `impl` block of the actor's struct: \
                 `impl Counter { .. }`",
            );
            None
        }
    }
}

/// The actor path has no generic arguments (`impl Cache<u8>`). Not
/// reported again when the `impl` itself was generic: `impl<T> Cache<T>`
/// is one mistake, reported once, at `<T>`.
pub fn no_type_arguments(cx: &Ctxt, actor: &Path, generic_impl: bool) {
    let generic_type = actor.segments.iter().find(|s| !s.arguments.is_none());
    if let (false, Some(segment)) = (generic_impl, generic_type) {
        cx.error_spanned_by(&segment.arguments, IMPL_GENERIC_MSG);
    }
}

/// A `#[rustyray(local)]` function carries no `num_returns` (it gets no
/// handle method).
pub fn local_settings(cx: &Ctxt, settings: &Settings) {
    if let Some((_, span)) = settings.num_returns {
        cx.error_at(
            span,
            "`num_returns` has no effect on a `#[rustyray(local)]` function: it \
             gets no handle method",
        );
    } else if let Some(span) = call_setting(settings) {
        cx.error_at(
            span,
            "this setting has no effect on a `#[method(local)]` function: it gets no handle \
             method",
        );
    }
}

/// Where a setting about calls (other than `num_returns`) was written.
fn call_setting(settings: &Settings) -> Option<proc_macro2::Span> {
    use syn::spanned::Spanned;
    settings
        .concurrency_group
        .as_ref()
        .map(|g| g.span())
        .or(settings.streaming)
        .or(settings
            .generator_backpressure
            .as_ref()
            .map(|(_, span)| *span))
        .or(settings.max_retries.as_ref().map(|t| t.span()))
        .or(settings.retry_exceptions.as_ref().map(|t| t.span()))
}

/// A constructor carries no `num_returns` (it makes the actor, not
/// objects).
pub fn constructor_settings(cx: &Ctxt, settings: &Settings) {
    if let Some((_, span)) = settings.num_returns {
        cx.error_at(
            span,
            "`num_returns` goes on a method; a constructor makes the \
             actor, not objects",
        );
    } else if let Some(span) = call_setting(settings) {
        cx.error_at(
            span,
            "this setting goes on a method; a constructor's options are the actor's \
             (`#[rustyray::actor(..)]` on the `impl`, or `Counter::options()`)",
        );
    }
}

/// The signature rules that do not depend on one argument: non-generic,
/// safe, Rust ABI, not variadic.
pub fn signature(cx: &Ctxt, sig: &syn::Signature) {
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            "#[rustyray::actor] methods cannot be `unsafe`: a handle's caller cannot uphold \
             their safety contract; make the method safe, with the `unsafe` block inside, or \
             mark it `#[rustyray(local)]`",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "#[rustyray::actor] methods cannot be `extern`; remove the ABI, or mark the \
             method `#[rustyray(local)]`",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "#[rustyray::actor] methods cannot be variadic");
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => cx.error_spanned_by(param, types::LIFETIME_MSG),
            GenericParam::Type(_) | GenericParam::Const(_) => {
                cx.error_spanned_by(param, types::GENERIC_MSG)
            }
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(where_clause, types::GENERIC_MSG);
    }
}

/// `&self` / `&mut self` (also written `self: &Self`); anything else is
/// reported.
pub fn receiver(cx: &Ctxt, receiver: &syn::Receiver, name: &str) -> Receiver {
    match types::strip_group(&receiver.ty) {
        Type::Reference(reference) if types::is_self_type(&reference.elem, name) => {
            if reference.mutability.is_some() {
                Receiver::Mut
            } else {
                Receiver::Ref
            }
        }
        _ => {
            cx.error_spanned_by(receiver, BY_VALUE_MSG);
            Receiver::Ref
        }
    }
}

/// Reports a function without a receiver that is no constructor, at its
/// `fn name(..)`.
pub fn no_receiver(cx: &Ctxt, sig: &syn::Signature) {
    cx.error_spanned_by(signature_head(sig), NO_RECEIVER_MSG);
}

/// A constructor is a plain `fn`: it runs once when the actor starts.
pub fn constructor_not_async(cx: &Ctxt, sig: &syn::Signature) {
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(
            asyncness,
            "actor constructors cannot be `async`: the constructor runs once, when the \
             actor starts (and again on each restart); make it a plain `fn` (methods may \
             be `async`)",
        );
    }
}

/// The `impl` has at least one constructor.
pub fn has_constructor(cx: &Ctxt, item: &ItemImpl, constructors: &[Constructor]) {
    if constructors.is_empty() {
        let (token, self_ty) = (&item.impl_token, &item.self_ty);
        cx.error_spanned_by(
            quote!(#token #self_ty),
            "an actor needs a constructor: an associated fn returning Self, \
             e.g. `fn new(..) -> Self`",
        );
    }
}

/// At most [`MAX_ARGS`] arguments (the runtime's argument tuples); the
/// first one too many is reported.
pub fn argument_count(cx: &Ctxt, typed: &[&syn::PatType]) {
    if let Some(extra) = typed.get(MAX_ARGS) {
        cx.error_spanned_by(
            extra,
            format!(
                "#[rustyray::actor] methods and constructors take at most {MAX_ARGS} \
                 arguments; group some of them into a struct"
            ),
        );
    }
}

/// The success type of a `Result` result: `Some(T)` for `Result<T, ..>`,
/// `None` for a result that is no `Result`; a bare `Result` (whose `T` the
/// macro cannot see) is reported and stands for itself.
pub fn visible_result(cx: &Ctxt, ty: &Type) -> Option<Type> {
    match types::ok_type(ty) {
        Some(Ok(value)) => Some(value.clone()),
        Some(Err(())) => {
            cx.error_spanned_by(
                ty,
                "#[rustyray::actor] cannot see the success type of this `Result`; write it \
                 out as `Result<T, E>`",
            );
            Some(ty.clone())
        }
        None => None,
    }
}

/// The elements of a result split by `num_returns = n` (n ≥ 2): `value`
/// must be an n-tuple; anything else is reported (`None`).
pub fn split_result(cx: &Ctxt, value: &Type, n: usize) -> Option<Vec<Type>> {
    match types::strip_group(value) {
        Type::Tuple(tuple) if tuple.elems.len() == n => Some(tuple.elems.iter().cloned().collect()),
        _ => {
            let example = (b'A'..).take(n).map(|c| (c as char).to_string());
            let example = example.collect::<Vec<_>>().join(", ");
            cx.error_spanned_by(
                value,
                format!(
                    "`num_returns = {n}` splits the result into {n} objects, so the \
                     method must return a tuple of {n} elements (`-> ({example})`); this \
                     result is `{}`",
                    types::to_string(value)
                ),
            );
            None
        }
    }
}

/// Reports type, const and lifetime parameters and `where` clauses;
/// whether there were any.
fn not_generic(cx: &Ctxt, generics: &Generics, msg: &str) -> bool {
    if !generics.params.is_empty() {
        cx.error_spanned_by(generics, msg);
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, msg);
    } else {
        return false;
    }
    true
}

/// `fn name(..)`: where a signature-wide error is underlined.
fn signature_head(sig: &syn::Signature) -> TokenStream {
    let (fn_token, ident) = (&sig.fn_token, &sig.ident);
    let mut tokens = quote!(#fn_token #ident);
    sig.paren_token
        .surround(&mut tokens, |inner| sig.inputs.to_tokens(inner));
    tokens
}

//! `#[rustyray::actor]`: a struct and its `impl` block become an actor.
//!
//! The attribute goes on two items, and each use sees only its own: the
//! struct (the actor's state) and its inherent `impl` (its constructors and
//! methods). The two expansions meet through names derived from the
//! struct's name, `Counter` (see [`names`]):
//!
//! - `CounterHandle`, the typed handle, and `__rustyray_Counter_actor_options`,
//!   the builder `Counter::options()` returns: both generated next to the
//!   struct, with its visibility (the `impl` cannot see it);
//! - `Counter::remote..` constructors, the builder's `.remote..` and the
//!   handle's methods: generated next to the `impl`, each with the
//!   visibility of the function it comes from, so a generated signature is
//!   never more visible than the user's own.
//!
//! As for `#[rustyray::remote]`, the macro runs in three steps:
//!
//! 1. **parse** the item (a `syn::ItemStruct` or `syn::ItemImpl`) and the
//!    per-method settings `#[rustyray(local)]` / `#[rustyray(num_returns =
//!    N)]` ([`settings`]), removing those settings from the item;
//! 2. **model and check**: [`ActorItem::from_ast`] builds an
//!    [`ActorStruct`] or an [`ActorImpl`] (constructors, methods with their
//!    receiver, arguments and result) and reports every rule the item
//!    breaks into the [`Ctxt`](crate::ctxt::Ctxt), each error at the span
//!    that breaks it;
//! 3. **expand** ([`expand`]) from the model only.
//!
//! If step 2 found anything, the item is emitted as written (less the
//! settings) next to the errors, so that its other uses add no noise.
//!
//! # Files
//!
//! One job each:
//!
//! - [`model`]: the model's types ([`ActorItem`], [`ActorStruct`],
//!   [`ActorImpl`], [`Constructor`], [`Method`], [`Receiver`]) and how they
//!   are read from the item;
//! - [`check`]: every rule an item can break, each error at its span, and
//!   the list of what is checked;
//! - [`names`]: every generated identifier (handle, options builder, items
//!   macro, `remote_<ctor>`) and the rules against clashes with the user's
//!   names;
//! - [`settings`]: the per-method `#[rustyray(..)]` settings;
//! - [`types`]: the type rules of signatures (shared with
//!   `#[rustyray::remote]`, worded for actors) and `Self` spelled out;
//! - [`expand`]: the generated code.

mod check;
pub mod expand;
mod model;
mod names;
mod settings;
mod types;

pub use self::model::{ActorImpl, ActorItem, ActorStruct, Constructor, Method, Receiver};

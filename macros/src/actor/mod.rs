//! `#[rustyray::actor]`: the checked models of an actor's struct and of its
//! `impl` block.
//!
//! The attribute goes on two items, and each use sees only its own: the
//! struct (the actor's state) and its inherent `impl` (its constructors and
//! methods). The two expansions meet through names derived from the
//! struct's name, `Counter`:
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
//!    N)]` (with [`crate::attr`]), removing those settings from the item;
//! 2. **model and check**: [`ActorItem::from_ast`] builds an
//!    [`ActorStruct`] or an [`ActorImpl`] (constructors, methods with their
//!    receiver, arguments and result) and reports every rule the item
//!    breaks into the [`Ctxt`], each error at the span that breaks it;
//! 3. **expand** ([`expand`]) from the model only.
//!
//! If step 2 found anything, the item is emitted as written (less the
//! settings) next to the errors, so that its other uses add no noise.
//!
//! # What is checked
//!
//! An actor is created and found by its type (`get_actor::<Counter>`), so
//! neither the struct nor the `impl` may be generic, and the `impl` must be
//! the inherent one. A function of the `impl` without a receiver must be a
//! constructor (returning `Self`, or `Result<Self, E>`), and there must be
//! at least one; a method takes `&self` or `&mut self` (a call cannot
//! consume the state that later calls use). Signatures follow the rules of
//! remote functions ([`types`]): no type, const or lifetime parameters, no
//! references or `impl Trait`, safe, Rust ABI, at most
//! [`MAX_ARGS`] arguments. Generated names must not clash with the user's
//! (`Counter::remote`, `Counter::options`, the handle's `id`/`clone`).
//!
//! What the macro cannot see (whether a type is `Serialize`, whether the
//! state is `Sync`, whether an error type is `Display`) is left to rustc;
//! the expansion places those checks so that rustc's error points at the
//! user's type (see [`expand`]).

pub mod expand;
mod types;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericParam, Generics, Ident, ImplItem, ImplItemFn, Item, ItemImpl,
    ItemStruct, Path, PathArguments, ReturnType, Type, Visibility,
};

use self::types::Position;
use crate::attr::{self, Meta, Value};
use crate::ctxt::Ctxt;
use crate::remote::{Argument, Output, Returns, MAX_ARGS, MAX_RETURNS};

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

const SETTINGS_USAGE: &str =
    "expected `#[rustyray(local)]` or `#[rustyray(num_returns = 2)]` on an actor method";

/// The settings a method may carry, for "did you mean" hints.
const SETTING_KEYS: &[&str] = &["local", "num_returns"];

/// What `#[rustyray::actor]` was put on, checked. (Built once per
/// expansion: the size of its variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum ActorItem {
    /// The actor's state.
    Struct(ActorStruct),
    /// Its constructors and methods.
    Impl(ActorImpl),
}

/// A struct under `#[rustyray::actor]`: the actor's state.
pub struct ActorStruct {
    /// The struct as written; emitted untouched.
    pub item: ItemStruct,
    /// Its `#[cfg]` attributes, repeated on every generated item.
    pub cfgs: Vec<Attribute>,
    /// Its visibility, given to the handle and options types and to
    /// `options()`.
    pub vis: Visibility,
    /// Its name.
    pub ident: Ident,
}

/// An `impl` block under `#[rustyray::actor]`: constructors and methods.
pub struct ActorImpl {
    /// The block as written, less the `#[rustyray(..)]` settings; emitted
    /// as it is, so a local actor value keeps every method.
    pub item: ItemImpl,
    /// Its `#[cfg]` attributes, repeated on every generated item.
    pub cfgs: Vec<Attribute>,
    /// The actor type as the `impl` names it (`Counter`, `super::Counter`).
    pub actor: Path,
    /// The actor's name without `r#` (`Counter`), for call names.
    pub name: String,
    /// The handle type, next to the struct (`super::CounterHandle`).
    pub handle: Path,
    /// The options builder, next to the struct.
    pub options: Path,
    /// The macro, next to the struct, that the generated items pass
    /// through: without the struct's attribute, it is the one thing missing.
    pub items_macro: Path,
    /// The constructors, in order (at least one).
    pub constructors: Vec<Constructor>,
    /// The methods that get a handle method, in order.
    pub methods: Vec<Method>,
}

/// A constructor: an associated function returning `Self`.
pub struct Constructor {
    /// Its name (`new`, `with_x`).
    pub ident: Ident,
    /// The generated creation functions' name: `remote` for `new` (or the
    /// only constructor), else `remote_<name>`.
    pub remote: Ident,
    /// Its visibility, given to the generated functions.
    pub vis: Visibility,
    /// Its `#[cfg]`, doc and `#[deprecated]` attributes, repeated on the
    /// generated functions.
    pub attrs: Vec<Attribute>,
    /// Its arguments (`Self` spelled out).
    pub args: Vec<Argument>,
    /// Set when it returns `Result<Self, E>`: the span of `E`.
    pub error_span: Option<Span>,
}

/// A method: `&self` or `&mut self`, sync or async.
pub struct Method {
    /// Its name; the handle method has the same.
    pub ident: Ident,
    /// Its visibility, given to the handle method.
    pub vis: Visibility,
    /// Its `#[cfg]`, doc and `#[deprecated]` attributes, repeated on the
    /// handle method.
    pub attrs: Vec<Attribute>,
    /// How it borrows the state.
    pub receiver: Receiver,
    /// `async fn`.
    pub is_async: bool,
    /// Its arguments after the receiver (`Self` spelled out).
    pub args: Vec<Argument>,
    /// How its result becomes objects (`Self` spelled out).
    pub output: Output,
}

/// How a method borrows the actor's state.
#[derive(Clone, Copy, PartialEq)]
pub enum Receiver {
    /// `&self`: shared; such calls may overlap with `max_concurrency > 1`.
    Ref,
    /// `&mut self`: exclusive.
    Mut,
}

/// The `#[rustyray(..)]` settings of one function of the `impl`.
#[derive(Default)]
struct Settings {
    /// `local`: no handle method.
    local: Option<Span>,
    /// `num_returns = N`, and where it was written.
    num_returns: Option<(usize, Span)>,
}

impl ActorItem {
    /// Parses and checks `#[rustyray::actor(args)] item`. Every problem is
    /// reported into `cx`. Returns the model (`None` when there is nothing
    /// to expand) and the item to emit instead if `cx` has errors.
    pub fn from_ast(
        cx: &Ctxt,
        args: TokenStream,
        item: TokenStream,
    ) -> (Option<ActorItem>, TokenStream) {
        if !args.is_empty() {
            cx.error_spanned_by(
                &args,
                "#[rustyray::actor] takes no arguments: set an actor's options when creating \
                 it, with `Counter::options().name(..).max_restarts(..).remote(..)`",
            );
        }
        let parsed = match syn::parse2::<Item>(item.clone()) {
            Ok(parsed) => parsed,
            Err(err) => {
                cx.syn_error(err);
                return (None, item);
            }
        };
        match parsed {
            Item::Struct(item) => {
                let model = ActorStruct::from_ast(cx, item);
                let fallback = model.item.to_token_stream();
                (Some(ActorItem::Struct(model)), fallback)
            }
            Item::Impl(mut item) => {
                let model = ActorImpl::from_ast(cx, &mut item);
                (model.map(ActorItem::Impl), item.into_token_stream())
            }
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
                (None, item.into_token_stream())
            }
            Item::Union(item) => {
                let (token, ident) = (&item.union_token, &item.ident);
                cx.error_spanned_by(
                    quote!(#token #ident),
                    "#[rustyray::actor] goes on a struct (the actor's state) and on its \
                     `impl` block, not on a union",
                );
                (None, item.into_token_stream())
            }
            Item::Fn(item) => {
                cx.error_spanned_by(
                    &item.sig,
                    "#[rustyray::actor] goes on a struct and on its `impl` block; to run a \
                     function as a task, use #[rustyray::remote]",
                );
                (None, item.into_token_stream())
            }
            other => {
                cx.error_spanned_by(
                    &other,
                    "#[rustyray::actor] goes on a struct (the actor's state) and on its \
                     `impl` block (its constructors and methods)",
                );
                (None, other.into_token_stream())
            }
        }
    }
}

impl ActorStruct {
    /// Checks the state struct; errors go into `cx`.
    fn from_ast(cx: &Ctxt, item: ItemStruct) -> ActorStruct {
        let only_lifetimes = item
            .generics
            .params
            .iter()
            .all(|param| matches!(param, GenericParam::Lifetime(_)));
        let msg = if only_lifetimes {
            STRUCT_LIFETIME_MSG
        } else {
            STRUCT_GENERIC_MSG
        };
        check_not_generic(cx, &item.generics, msg);
        ActorStruct {
            cfgs: cfgs(&item.attrs),
            vis: item.vis.clone(),
            ident: item.ident.clone(),
            item,
        }
    }

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
fn items_macro_ident(ident: &Ident) -> Ident {
    format_ident!(
        "__rustyray_put_the_actor_attribute_on_struct_{}",
        ident.unraw(),
        span = ident.span()
    )
}

/// The handle type of the actor `ident`, spanned at it.
fn handle_ident(ident: &Ident) -> Ident {
    format_ident!("{}Handle", ident.unraw(), span = ident.span())
}

/// The options builder type of the actor `ident`, spanned at it.
fn options_ident(ident: &Ident) -> Ident {
    format_ident!(
        "__rustyray_{}_actor_options",
        ident.unraw(),
        span = ident.span()
    )
}

impl ActorImpl {
    /// Checks the `impl` block, removing the `#[rustyray(..)]` settings
    /// from `item` as it reads them; errors go into `cx`. `None` when the
    /// block is not an inherent `impl` of a named type.
    fn from_ast(cx: &Ctxt, item: &mut ItemImpl) -> Option<ActorImpl> {
        let settings: Vec<Settings> = item
            .items
            .iter_mut()
            .map(|impl_item| take_settings(cx, impl_item))
            .collect();

        if let Some((_, path, _)) = &item.trait_ {
            cx.error_spanned_by(
                path,
                "#[rustyray::actor] goes on the actor's inherent `impl` block \
                 (`impl Counter { .. }`), not on a trait impl: its methods become the \
                 handle's; call trait methods from an inherent method",
            );
            return None;
        }
        let generic_impl = check_not_generic(cx, &item.generics, IMPL_GENERIC_MSG);
        let actor = match &*item.self_ty {
            Type::Path(path) if path.qself.is_none() => path.path.clone(),
            other => {
                cx.error_spanned_by(
                    other,
                    "#[rustyray::actor] goes on the `impl` block of the actor's struct: \
                     `impl Counter { .. }`",
                );
                return None;
            }
        };
        // `impl<T> Cache<T>` is one mistake: reported once, at `<T>`.
        let generic_type = actor.segments.iter().find(|s| !s.arguments.is_none());
        if let (false, Some(segment)) = (generic_impl, generic_type) {
            cx.error_spanned_by(&segment.arguments, IMPL_GENERIC_MSG);
        }
        let last = &actor.segments.last()?.ident;
        let name = last.unraw().to_string();
        let sibling = |ident: Ident| {
            let mut path = actor.clone();
            if let Some(segment) = path.segments.last_mut() {
                segment.ident = ident;
                segment.arguments = PathArguments::None;
            }
            path
        };
        let handle = sibling(handle_ident(last));
        let options = sibling(options_ident(last));
        let items_macro = sibling(items_macro_ident(last));

        let mut constructors = Vec::new();
        let mut methods = Vec::new();
        for (impl_item, settings) in item.items.iter().zip(&settings) {
            let ImplItem::Fn(f) = impl_item else {
                continue;
            };
            if settings.local.is_some() {
                if let Some((_, span)) = settings.num_returns {
                    cx.error_at(
                        span,
                        "`num_returns` has no effect on a `#[rustyray(local)]` function: it \
                         gets no handle method",
                    );
                }
                continue;
            }
            check_signature(cx, &f.sig);
            match f.sig.inputs.first() {
                Some(FnArg::Receiver(receiver)) => {
                    let receiver = receiver_kind(cx, receiver, &name);
                    methods.push(Method::from_ast(cx, f, receiver, settings, &actor));
                }
                _ => match constructor_output(&f.sig.output, &name) {
                    Some(error_span) => {
                        if let Some((_, span)) = settings.num_returns {
                            cx.error_at(
                                span,
                                "`num_returns` goes on a method; a constructor makes the \
                                 actor, not objects",
                            );
                        }
                        constructors.push(Constructor::from_ast(cx, f, error_span, &actor));
                    }
                    None => cx.error_spanned_by(signature_head(&f.sig), NO_RECEIVER_MSG),
                },
            }
        }

        name_constructors(&mut constructors);
        if constructors.is_empty() {
            let (token, self_ty) = (&item.impl_token, &item.self_ty);
            cx.error_spanned_by(
                quote!(#token #self_ty),
                "an actor needs a constructor: an associated fn returning Self, \
                 e.g. `fn new(..) -> Self`",
            );
        }
        check_names(cx, item, &constructors, &methods);

        Some(ActorImpl {
            cfgs: cfgs(&item.attrs),
            actor,
            name,
            handle,
            options,
            items_macro,
            constructors,
            methods,
            item: item.clone(),
        })
    }
}

impl Constructor {
    fn from_ast(cx: &Ctxt, f: &ImplItemFn, error_span: Option<Span>, actor: &Path) -> Self {
        if let Some(asyncness) = &f.sig.asyncness {
            cx.error_spanned_by(
                asyncness,
                "actor constructors cannot be `async`: the constructor runs once, when the \
                 actor starts (and again on each restart); make it a plain `fn` (methods may \
                 be `async`)",
            );
        }
        Constructor {
            ident: f.sig.ident.clone(),
            // Set by `name_constructors` once all are known.
            remote: f.sig.ident.clone(),
            vis: f.vis.clone(),
            attrs: forwarded_attrs(&f.attrs),
            args: arguments(cx, &f.sig, Position::ConstructorArgument, actor),
            error_span,
        }
    }
}

impl Method {
    fn from_ast(
        cx: &Ctxt,
        f: &ImplItemFn,
        receiver: Receiver,
        settings: &Settings,
        actor: &Path,
    ) -> Self {
        Method {
            ident: f.sig.ident.clone(),
            vis: f.vis.clone(),
            attrs: forwarded_attrs(&f.attrs),
            receiver,
            is_async: f.sig.asyncness.is_some(),
            args: arguments(cx, &f.sig, Position::MethodArgument, actor),
            output: output(cx, &f.sig.output, settings.num_returns, actor),
        }
    }
}

/// The `#[cfg]` attributes among `attrs`.
fn cfgs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// The attributes a generated function copies from the user's: `#[cfg]`,
/// docs and `#[deprecated]`.
fn forwarded_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| {
            ["cfg", "doc", "deprecated"]
                .iter()
                .any(|p| a.path().is_ident(p))
        })
        .cloned()
        .collect()
}

/// Reports type, const and lifetime parameters and `where` clauses;
/// whether there were any.
fn check_not_generic(cx: &Ctxt, generics: &Generics, msg: &str) -> bool {
    if !generics.params.is_empty() {
        cx.error_spanned_by(generics, msg);
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, msg);
    } else {
        return false;
    }
    true
}

/// Removes the `#[rustyray(..)]` settings from one item of the `impl` and
/// interprets them (only functions may have them).
fn take_settings(cx: &Ctxt, item: &mut ImplItem) -> Settings {
    let mut settings = Settings::default();
    let (attrs, is_fn) = match item {
        ImplItem::Fn(f) => (&mut f.attrs, true),
        ImplItem::Const(c) => (&mut c.attrs, false),
        ImplItem::Type(t) => (&mut t.attrs, false),
        ImplItem::Macro(m) => (&mut m.attrs, false),
        _ => return settings,
    };
    attrs.retain(|attr| {
        if !attr.path().is_ident("rustyray") {
            return true;
        }
        if !is_fn {
            cx.error_spanned_by(attr, "#[rustyray(..)] goes on a function of the actor");
            return false;
        }
        let metas = match &attr.meta {
            syn::Meta::List(list) => attr::parse_metas(list.tokens.clone()),
            _ => Err(syn::Error::new_spanned(attr, SETTINGS_USAGE)),
        };
        match metas {
            Ok(metas) => {
                for meta in &metas {
                    read_setting(cx, meta, &mut settings);
                }
            }
            Err(err) => cx.syn_error(err),
        }
        false
    });
    settings
}

/// One `key` or `key = value` of `#[rustyray(..)]`.
fn read_setting(cx: &Ctxt, meta: &Meta, settings: &mut Settings) {
    match meta.key.name().as_str() {
        "local" => match meta.value {
            Value::Flag => settings.local = Some(meta.key.span()),
            _ => cx.error_spanned_by(meta.spanned(), "expected `#[rustyray(local)]`"),
        },
        "num_returns" => {
            let Some(expr) = attr::expect_expr(cx, meta, "num_returns = 2") else {
                return;
            };
            match attr::number(expr) {
                Some(Ok(n)) if n.is_int && n.value >= 1.0 && n.value <= MAX_RETURNS as f64 => {
                    settings.num_returns = Some((n.value as usize, expr.span()));
                }
                Some(Err(err)) => cx.syn_error(err),
                _ => cx.error_spanned_by(
                    expr,
                    format!(
                        "`num_returns` takes an integer literal from 1 to {MAX_RETURNS}: the \
                         number of objects the method's tuple result is split into"
                    ),
                ),
            }
        }
        other => {
            let hint = attr::did_you_mean(other, SETTING_KEYS)
                .map(|key| format!(" (did you mean `{key}`?)"))
                .unwrap_or_default();
            cx.error_at(
                meta.key.span(),
                format!("unknown actor method setting `{other}`{hint}; {SETTINGS_USAGE}"),
            );
        }
    }
}

/// The signature rules that do not depend on one argument: non-generic,
/// safe, Rust ABI, not variadic.
fn check_signature(cx: &Ctxt, sig: &syn::Signature) {
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
fn receiver_kind(cx: &Ctxt, receiver: &syn::Receiver, name: &str) -> Receiver {
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

/// For a function without a receiver: `Some(None)` when it returns `Self`,
/// `Some(Some(span of E))` for `Result<Self, E>`, `None` when it is no
/// constructor.
fn constructor_output(output: &ReturnType, name: &str) -> Option<Option<Span>> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    if types::is_self_type(ty, name) {
        return Some(None);
    }
    match types::ok_type(ty) {
        Some(Ok(ok)) if types::is_self_type(ok, name) => Some(Some(
            types::err_type(ty).map_or_else(|| ty.span(), |e| e.span()),
        )),
        _ => None,
    }
}

/// `fn name(..)`: where a signature-wide error is underlined.
fn signature_head(sig: &syn::Signature) -> TokenStream {
    let (fn_token, ident) = (&sig.fn_token, &sig.ident);
    let mut tokens = quote!(#fn_token #ident);
    sig.paren_token
        .surround(&mut tokens, |inner| sig.inputs.to_tokens(inner));
    tokens
}

/// Gives each constructor its generated name: `remote` for `new`, or for
/// the only constructor when none is called `new`; `remote_<name>` for the
/// others.
fn name_constructors(constructors: &mut [Constructor]) {
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
fn check_names(cx: &Ctxt, item: &ItemImpl, constructors: &[Constructor], methods: &[Method]) {
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

/// The arguments after the receiver, each checked to be owned, `'static`
/// and concrete.
fn arguments(cx: &Ctxt, sig: &syn::Signature, position: Position, actor: &Path) -> Vec<Argument> {
    let typed: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat_type) => Some(pat_type),
            FnArg::Receiver(_) => None,
        })
        .collect();
    if let Some(extra) = typed.get(MAX_ARGS) {
        cx.error_spanned_by(
            extra,
            format!(
                "#[rustyray::actor] methods and constructors take at most {MAX_ARGS} \
                 arguments; group some of them into a struct"
            ),
        );
    }

    let names = crate::types::argument_names(&typed, None);
    typed
        .iter()
        .zip(names)
        .map(|(arg, name)| {
            let ty = types::replace_self(&arg.ty, actor);
            types::check_owned(cx, &ty, position);
            Argument { name, ty }
        })
        .collect()
}

/// A method's result: `Result<T, E>` detection (syntactic, as for
/// `#[rustyray::remote]`) and the `num_returns` split.
fn output(
    cx: &Ctxt,
    output: &ReturnType,
    num_returns: Option<(usize, Span)>,
    actor: &Path,
) -> Output {
    let ty = match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => types::replace_self(ty, actor),
    };
    types::check_owned(cx, &ty, Position::Result);

    let (fallible, value) = match types::ok_type(&ty) {
        Some(Ok(value)) => (true, value.clone()),
        Some(Err(())) => {
            cx.error_spanned_by(
                &ty,
                "#[rustyray::actor] cannot see the success type of this `Result`; write it \
                 out as `Result<T, E>`",
            );
            (true, ty.clone())
        }
        None => (false, ty.clone()),
    };

    let returns = match num_returns {
        Some((n, _)) if n >= 2 => match types::strip_group(&value) {
            Type::Tuple(tuple) if tuple.elems.len() == n => {
                Returns::Many(tuple.elems.iter().cloned().collect())
            }
            _ => {
                let example = (b'A'..).take(n).map(|c| (c as char).to_string());
                let example = example.collect::<Vec<_>>().join(", ");
                cx.error_spanned_by(
                    &value,
                    format!(
                        "`num_returns = {n}` splits the result into {n} objects, so the \
                         method must return a tuple of {n} elements (`-> ({example})`); this \
                         result is `{}`",
                        types::to_string(&value)
                    ),
                );
                Returns::One(value)
            }
        },
        _ => Returns::One(value),
    };
    Output {
        error_span: fallible.then(|| types::err_type(&ty).map_or_else(|| ty.span(), |e| e.span())),
        returns,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn model(item: TokenStream) -> (Option<ActorItem>, Vec<String>) {
        let cx = Ctxt::new();
        let (model, _) = ActorItem::from_ast(&cx, TokenStream::new(), item);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        };
        (model, errors)
    }

    fn actor_impl(item: TokenStream) -> ActorImpl {
        match model(item) {
            (Some(ActorItem::Impl(model)), errors) if errors.is_empty() => model,
            (_, errors) => panic!("{errors:?}"),
        }
    }

    #[test]
    fn constructors_and_methods_are_told_apart() {
        let m = actor_impl(quote!(
            impl Counter {
                fn new(n: i64) -> Self {
                    Counter { n }
                }
                pub fn with_x(x: i64) -> Result<Counter, String> {
                    todo!()
                }
                fn incr(&mut self, by: i64) -> i64 {
                    todo!()
                }
                async fn get(self: &Self) -> i64 {
                    todo!()
                }
                #[rustyray(local)]
                fn helper(x: u8) -> u8 {
                    x
                }
                #[rustyray(num_returns = 2)]
                fn pair(&self) -> (Self, u8) {
                    todo!()
                }
            }
        ));
        let remotes: Vec<String> = m
            .constructors
            .iter()
            .map(|c| c.remote.to_string())
            .collect();
        assert_eq!(remotes, ["remote", "remote_with_x"]);
        assert!(m.constructors[1].error_span.is_some());
        let methods: Vec<String> = m.methods.iter().map(|m| m.ident.to_string()).collect();
        assert_eq!(methods, ["incr", "get", "pair"]);
        assert!(m.methods[0].receiver == Receiver::Mut);
        assert!(m.methods[1].receiver == Receiver::Ref && m.methods[1].is_async);
        let Returns::Many(tys) = &m.methods[2].output.returns else {
            panic!("not split")
        };
        assert_eq!(types::to_string(&tys[0]), "Counter");
        // The settings are gone from the emitted block.
        let emitted = m.item.to_token_stream().to_string();
        assert!(!emitted.contains("rustyray"), "{emitted}");
        assert_eq!(m.handle.to_token_stream().to_string(), "CounterHandle");
    }

    #[test]
    fn a_single_constructor_is_remote() {
        let m = actor_impl(quote!(
            impl super::Counter {
                fn start() -> Self {
                    todo!()
                }
            }
        ));
        assert_eq!(m.constructors[0].remote.to_string(), "remote");
        assert_eq!(
            m.options.to_token_stream().to_string(),
            "super :: __rustyray_Counter_actor_options"
        );
    }

    #[test]
    fn every_error_is_reported() {
        let (_, errors) = model(quote!(
            impl Counter {
                fn helper(x: u8) -> u8 {
                    x
                }
                fn take(self) {}
                fn generic<T>(&self, t: T) {}
                fn borrow(&self, s: &str) {}
                fn id(&self) -> u64 {
                    0
                }
                #[rustyray(locl)]
                fn typo(&self) {}
            }
        ));
        // helper, take, generic, borrow, id, locl, no constructor.
        assert_eq!(errors.len(), 7, "{errors:#?}");
    }
}

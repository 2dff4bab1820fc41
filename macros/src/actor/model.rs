//! What an actor is to the macro: the checked models of its struct
//! ([`ActorStruct`]) and of its `impl` block ([`ActorImpl`], with its
//! [`Constructor`]s and [`Method`]s), and how they are read from syntax.
//!
//! [`ActorItem::from_ast`] parses the item, takes the per-method settings
//! off it ([`settings`](super::settings)), sorts each function of the
//! `impl` into constructor, method or local helper, and spells out `Self`
//! in every signature type ([`types`]). Every rule it meets
//! is reported through [`check`] (and the name rules through
//! [`names`]), in source order; the model keeps whatever it
//! could make sense of, so that one pass finds every mistake.
//!
//! The expansion ([`expand`](super::expand)) reads these types only.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, Item, ItemImpl, ItemStruct, Path, ReturnType,
    Type, Visibility,
};

use super::settings::{self, take_settings, ClassOptions, Settings};
use super::types::{self, Position};
use super::{check, names};
use crate::ctxt::Ctxt;
use crate::remote::{Argument, Output, Returns};

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
    /// The runtime crate's path: `::rustyray`, or the attribute's
    /// `crate = ".."` (see [`crate::krate`]).
    pub krate: Path,
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
    /// The class defaults of the attribute, as `ActorClass` setter calls.
    pub class: Vec<TokenStream>,
    /// The runtime crate's path: `::rustyray`, or the attribute's
    /// `crate = ".."` (see [`crate::krate`]).
    pub krate: Path,
}

/// A constructor: an associated function returning `Self`.
pub struct Constructor {
    /// Its name (`new`, `with_x`).
    pub ident: Ident,
    /// The generated creation functions' name: `remote` for `new` (or the
    /// only constructor), else `remote_<name>` (see
    /// [`names::name_constructors`]).
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
    /// `#[method(concurrency_group = "io")]`.
    pub concurrency_group: Option<syn::LitStr>,
    /// `#[method(max_retries = N)]`, a `u32` literal.
    pub max_retries: Option<TokenStream>,
    /// `#[method(retry_exceptions = ..)]`, a `bool` literal.
    pub retry_exceptions: Option<TokenStream>,
    /// `#[method(streaming, generator_backpressure = n)]`, a `usize` literal.
    pub generator_backpressure: Option<TokenStream>,
}

/// How a method borrows the actor's state.
#[derive(Clone, Copy, PartialEq)]
pub enum Receiver {
    /// `&self`: shared; such calls may overlap with `max_concurrency > 1`.
    Ref,
    /// `&mut self`: exclusive.
    Mut,
}

impl ActorItem {
    /// Parses and checks `#[rustyray::actor(args)] item`. Every problem is
    /// reported into `cx`. Returns the model (`None` when there is nothing
    /// to expand) and the item to emit instead if `cx` has errors: the item
    /// as written (less the method settings), so that its other uses add no
    /// noise; an inherent `impl` still counts as the actor's methods, so
    /// that its struct reports nothing more.
    pub fn from_ast(
        cx: &Ctxt,
        args: TokenStream,
        item: TokenStream,
    ) -> (Option<ActorItem>, TokenStream) {
        let (krate, class) = settings::attribute(cx, args);
        let parsed = match syn::parse2::<Item>(item.clone()) {
            Ok(parsed) => parsed,
            Err(err) => {
                cx.syn_error(err);
                return (None, item);
            }
        };
        check::item_kind(cx, &parsed);
        match parsed {
            Item::Struct(item) => {
                if let Some(span) = class.first {
                    cx.error_at(
                        span,
                        "class options go on the actor's `impl` block: \
                         `#[rustyray::actor(max_restarts = 2)] impl Counter { .. }`",
                    );
                }
                let model = ActorStruct::from_ast(cx, item, krate);
                let fallback = model.item.to_token_stream();
                (Some(ActorItem::Struct(model)), fallback)
            }
            Item::Impl(mut item) => {
                let model = ActorImpl::from_ast(cx, &mut item, krate.clone(), class);
                let mut fallback = item.to_token_stream();
                if item.generics.params.is_empty() && item.trait_.is_none() {
                    let self_ty = &item.self_ty;
                    fallback.extend(quote! {
                        impl #krate::__private::ActorMethods for #self_ty {}
                    });
                }
                (model.map(ActorItem::Impl), fallback)
            }
            other => (None, other.into_token_stream()),
        }
    }
}

impl ActorStruct {
    /// Checks the state struct; errors go into `cx`.
    fn from_ast(cx: &Ctxt, item: ItemStruct, krate: Path) -> ActorStruct {
        check::struct_not_generic(cx, &item.generics);
        ActorStruct {
            krate,
            cfgs: cfgs(&item.attrs),
            vis: item.vis.clone(),
            ident: item.ident.clone(),
            item,
        }
    }
}

impl ActorImpl {
    /// Checks the `impl` block, removing the `#[rustyray(..)]` settings
    /// from `item` as it reads them; errors go into `cx`. `None` when the
    /// block is not an inherent `impl` of a named type.
    fn from_ast(
        cx: &Ctxt,
        item: &mut ItemImpl,
        krate: Path,
        class: ClassOptions,
    ) -> Option<ActorImpl> {
        let settings: Vec<Settings> = item
            .items
            .iter_mut()
            .map(|impl_item| take_settings(cx, impl_item))
            .collect();

        if !check::inherent_impl(cx, item) {
            return None;
        }
        let generic_impl = check::impl_not_generic(cx, &item.generics);
        let actor = check::actor_path(cx, &item.self_ty)?;
        check::no_type_arguments(cx, &actor, generic_impl);
        let last = &actor.segments.last()?.ident;
        let name = last.unraw().to_string();
        let handle = names::sibling(&actor, names::handle_ident(last));
        let options = names::sibling(&actor, names::options_ident(last));
        let items_macro = names::sibling(&actor, names::items_macro_ident(last));

        let mut constructors = Vec::new();
        let mut methods = Vec::new();
        for (impl_item, settings) in item.items.iter().zip(&settings) {
            let ImplItem::Fn(f) = impl_item else {
                continue;
            };
            if settings.local.is_some() {
                check::local_settings(cx, settings);
                continue;
            }
            check::signature(cx, &f.sig);
            match f.sig.inputs.first() {
                Some(FnArg::Receiver(receiver)) => {
                    let receiver = check::receiver(cx, receiver, &name);
                    methods.push(Method::from_ast(cx, f, receiver, settings, &actor));
                }
                _ => match constructor_output(&f.sig.output, &name) {
                    Some(error_span) => {
                        check::constructor_settings(cx, settings);
                        constructors.push(Constructor::from_ast(cx, f, error_span, &actor));
                    }
                    None => check::no_receiver(cx, &f.sig),
                },
            }
        }

        names::name_constructors(&mut constructors);
        check::has_constructor(cx, item, &constructors);
        names::check_names(cx, item, &constructors, &methods);

        Some(ActorImpl {
            cfgs: cfgs(&item.attrs),
            actor,
            name,
            handle,
            options,
            items_macro,
            constructors,
            methods,
            class: class.setters,
            krate,
            item: item.clone(),
        })
    }
}

impl Constructor {
    fn from_ast(cx: &Ctxt, f: &ImplItemFn, error_span: Option<Span>, actor: &Path) -> Self {
        check::constructor_not_async(cx, &f.sig);
        Constructor {
            ident: f.sig.ident.clone(),
            // Set by `names::name_constructors` once all are known.
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
        let output = match settings.streaming {
            Some(span) => {
                if settings.num_returns.is_some() {
                    cx.error_at(
                        span,
                        "a streaming method makes one object per item: it takes no \
                         `num_returns`",
                    );
                }
                crate::remote::streaming_output(cx, &f.sig, f.sig.asyncness.is_some())
            }
            None => {
                if let Some((_, span)) = settings.generator_backpressure {
                    cx.error_at(
                        span,
                        "`generator_backpressure` is for a streaming method: \
                         `#[method(streaming, generator_backpressure = 4)]`",
                    );
                }
                output(cx, &f.sig.output, settings.num_returns, actor)
            }
        };
        Method {
            ident: f.sig.ident.clone(),
            vis: f.vis.clone(),
            attrs: forwarded_attrs(&f.attrs),
            receiver,
            is_async: f.sig.asyncness.is_some(),
            args: arguments(cx, &f.sig, Position::MethodArgument, actor),
            output,
            concurrency_group: settings.concurrency_group.clone(),
            max_retries: settings.max_retries.clone(),
            retry_exceptions: settings.retry_exceptions.clone(),
            generator_backpressure: settings.generator_backpressure.clone().map(|(n, _)| n),
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
        Some(Ok(ok)) if types::is_self_type(ok, name) => Some(Some(error_span(ty))),
        _ => None,
    }
}

/// Where a `Result`'s error type is (the whole type when `E` is not
/// written out): `user_error`'s `E: Display` is checked there.
fn error_span(ty: &Type) -> Span {
    syn::spanned::Spanned::span(&types::err_type(ty).unwrap_or(ty))
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
    check::argument_count(cx, &typed);

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

    let (fallible, value) = match check::visible_result(cx, &ty) {
        Some(value) => (true, value),
        None => (false, ty.clone()),
    };
    let returns = match num_returns {
        Some((n, _)) if n >= 2 => match check::split_result(cx, &value, n) {
            Some(tys) => Returns::Many(tys),
            None => Returns::One(value),
        },
        _ => Returns::One(value),
    };
    Output {
        error_span: fallible.then(|| error_span(&ty)),
        returns,
        stream_item: None,
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

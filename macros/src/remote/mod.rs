//! `#[rustyray::remote]`: the checked model of a remote function.
//!
//! The macro runs in three steps, as serde_derive does:
//!
//! 1. **parse** the attribute's options (with [`crate::attr`]) and the item
//!    (a `syn::ItemFn`);
//! 2. **model and check**: [`RemoteFn::from_ast`] builds a [`RemoteFn`]
//!    (name, arguments, how the result becomes objects, options) and reports
//!    every rule the function breaks into the [`Ctxt`], each error at the
//!    span that breaks it and saying what to write instead;
//! 3. **expand** ([`expand`]): generate code from the model only.
//!
//! If step 2 found anything, the function is emitted untouched next to the
//! errors, so that its other uses do not add noise.
//!
//! # What is checked
//!
//! A remote function is identified by its stable name
//! (`module::path::fn_name`) and called later, on another thread, with
//! arguments that may come from the object store. Hence it must be a free
//! function (no `self`: methods with state belong to `#[rustyray::actor]`),
//! with one concrete signature (no type or const parameters, no `impl
//! Trait`), owned `'static` arguments and result (no references or
//! lifetimes), safe, with the Rust ABI and not variadic. The options must be
//! known keys with values of the right shape, and `num_returns = N` (N ≥ 2)
//! needs a function returning an N-tuple.
//!
//! What the macro cannot see (whether a type is `Serialize`, whether an
//! error type is `Display`) is left to rustc; the expansion places those
//! checks so that rustc's error points at the user's type (see
//! [`expand`]).

pub mod expand;
pub mod split;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericParam, Ident, Item, ItemFn, LitStr, Path, ReturnType, Type, Visibility,
};

use crate::attr::{self, Meta, Value};
use crate::ctxt::Ctxt;
use crate::types::{argument_names, check_owned, err_type, ok_type, strip_group, Wording};

/// The most arguments a remote function may take (the `ArgList` tuples of
/// the `rustyray` crate).
pub const MAX_ARGS: usize = 12;

/// The most objects `num_returns` may split a result into (the `Many`
/// tuples of the `rustyray` crate).
pub const MAX_RETURNS: usize = 8;

const SELF_MSG: &str = "#[rustyray::remote] cannot be used on a method with `self`; \
     use a free function, or #[rustyray::actor] for stateful methods";

const GENERIC_MSG: &str = "#[rustyray::remote] functions cannot be generic: a remote function \
     needs one concrete signature (its stable name identifies it); write a non-generic wrapper";

const LIFETIME_MSG: &str = "#[rustyray::remote] functions cannot borrow: arguments and results \
     must be owned `'static` types (`String`, `Vec<T>`, …); callers may pass an `ObjectRef` to \
     share a value without copying it";

const VALID_OPTIONS: &str = "valid options: `num_cpus = 1.0`, `max_retries = 3`, \
     `retry_exceptions = true`, `num_returns = 2`, `name = \"..\"`, `resources(gpu = 1.0)`, \
     `streaming`, `crate = \"..\"`";

/// The option keys, for "did you mean" hints.
const OPTION_KEYS: &[&str] = &[
    "num_cpus",
    "max_retries",
    "retry_exceptions",
    "num_returns",
    "name",
    "resources",
    "streaming",
    "crate",
];

/// A function under `#[rustyray::remote]`, checked: everything the
/// expansion needs.
pub struct RemoteFn {
    /// The function as written; emitted untouched.
    pub item: ItemFn,
    /// Its `#[cfg]` attributes, repeated on every generated item.
    pub cfgs: Vec<Attribute>,
    /// Its visibility, given to the glob import that brings the generated
    /// types next to it.
    pub vis: Visibility,
    /// Its name; the generated handle type has the same one.
    pub ident: Ident,
    /// `async fn`: submitted with `submit_async` and awaited.
    pub is_async: bool,
    /// Its arguments, in order.
    pub args: Vec<Argument>,
    /// How its result becomes objects.
    pub output: Output,
    /// The attribute's options: the defaults of `f::options()`.
    pub options: Options,
    /// The runtime crate's path: `::rustyray`, or the `crate = ".."`
    /// option's (see [`crate::krate`]).
    pub krate: Path,
}

/// One argument of a remote function.
pub struct Argument {
    /// The parameter name in the generated `remote(..)`: the function's own
    /// when it is a plain identifier, else `argN`.
    pub name: Ident,
    /// Its (owned) type.
    pub ty: Type,
}

/// How a remote function's return value becomes the task's objects.
pub struct Output {
    /// Set when the return type is a `Result` (`Ok` is the value, `Err`
    /// fails the task): the span of that return type.
    pub error_span: Option<Span>,
    /// The value (the `Ok` type of a `Result`) and how it is split.
    pub returns: Returns,
    /// For a streaming generator: the item type as written (`Result<T, E>`
    /// or `T`); `returns` is then `One(T)` and `error_span` `E`'s.
    pub stream_item: Option<Type>,
}

/// One object, or a tuple split into several (`num_returns = N`).
pub enum Returns {
    /// One object of this type (`()` when the function returns nothing).
    One(Type),
    /// One object per tuple element.
    Many(Vec<Type>),
}

/// The options of `#[rustyray::remote(..)]`, as the expressions passed to
/// the `TaskOptions` setters (literals already checked and normalised).
#[derive(Default)]
pub struct Options {
    /// `num_cpus = 0.5` → `.num_cpus(0.5f64)`.
    pub num_cpus: Option<TokenStream>,
    /// `max_retries = 3` → `.max_retries(3)` (`-1` → `u32::MAX`).
    pub max_retries: Option<TokenStream>,
    /// `retry_exceptions = true` → `.retry_exceptions(true)`.
    pub retry_exceptions: Option<TokenStream>,
    /// `name = "x"` → `.name("x")`.
    pub name: Option<TokenStream>,
    /// `resources(gpu = 1.0)` → `.resource("gpu", 1.0f64)`, in order.
    pub resources: Vec<(LitStr, TokenStream)>,
    /// `num_returns = N`.
    pub num_returns: Option<usize>,
    /// `streaming`: a generator, each item of its iterator (or stream) an
    /// object.
    pub streaming: Option<Span>,
    /// `crate = "my_ray"`: not a task option, the path the expansion names
    /// the runtime crate by.
    pub krate: Option<Path>,
}

impl RemoteFn {
    /// Parses and checks `#[rustyray::remote(args)] item`. Every problem is
    /// reported into `cx`; `None` only when there is no function to model.
    pub fn from_ast(cx: &Ctxt, args: TokenStream, item: TokenStream) -> Option<RemoteFn> {
        let options = match attr::parse_metas(args) {
            Ok(metas) => Options::from_metas(cx, &metas),
            Err(err) => {
                cx.syn_error(err);
                Options::default()
            }
        };
        let item = match syn::parse2::<Item>(item) {
            Ok(Item::Fn(item)) => item,
            Ok(other @ (Item::Struct(_) | Item::Enum(_) | Item::Impl(_))) => {
                cx.error_spanned_by(
                    other,
                    "#[rustyray::remote] goes on a free function; \
                     for a struct and its methods use #[rustyray::actor]",
                );
                return None;
            }
            Ok(other) => {
                cx.error_spanned_by(other, "#[rustyray::remote] goes on a free function (`fn`)");
                return None;
            }
            Err(err) => {
                cx.syn_error(err);
                return None;
            }
        };

        check_signature(cx, &item.sig);
        crate::dropped_guard::check(cx, &item.block);
        let args = arguments(cx, &item.sig);
        let output = match options.streaming {
            Some(span) => {
                if options.num_returns.is_some() {
                    cx.error_at(
                        span,
                        "a streaming generator makes one object per item: it takes no \
                         `num_returns`",
                    );
                }
                streaming_output(cx, &item.sig, item.sig.asyncness.is_some())
            }
            None => output(cx, &item.sig.output, options.num_returns),
        };

        Some(RemoteFn {
            krate: options
                .krate
                .clone()
                .unwrap_or_else(crate::krate::default_path),
            cfgs: item
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect(),
            vis: item.vis.clone(),
            ident: item.sig.ident.clone(),
            is_async: item.sig.asyncness.is_some(),
            args,
            output,
            options,
            item,
        })
    }

    /// The function's name without `r#`.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

impl Options {
    /// Interprets the attribute's entries; see [`Options`].
    fn from_metas(cx: &Ctxt, metas: &[Meta]) -> Options {
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        for meta in metas {
            let key = match meta.key.name().as_str() {
                "resource" => "resources".to_owned(),
                other => other.to_owned(),
            };
            if seen.contains(&key) {
                cx.error_at(
                    meta.key.span(),
                    format!("duplicate option `{}`: give it once", meta.key.name()),
                );
                continue;
            }
            seen.push(key);
            match meta.key.name().as_str() {
                "num_cpus" => {
                    options.num_cpus = attr::amount(cx, meta, "num_cpus = 1.0");
                }
                "max_retries" => options.max_retries = max_retries(cx, meta),
                "retry_exceptions" => {
                    options.retry_exceptions = attr::boolean(cx, meta, "retry_exceptions = true");
                }
                "name" => options.name = attr::string(cx, meta, "name = \"my-task\""),
                "num_returns" => options.num_returns = num_returns(cx, meta),
                "streaming" => match meta.value {
                    Value::Flag => options.streaming = Some(meta.key.span()),
                    _ => cx.error_spanned_by(meta.spanned(), "expected `streaming` alone"),
                },
                "resources" | "resource" => resources(cx, meta, &mut options.resources),
                "crate" => options.krate = crate::krate::from_meta(cx, meta),
                other if attr::is_gpu_key(other) => cx.error_at(
                    meta.key.span(),
                    attr::gpu_message(other, "resources(gpu = 1)"),
                ),
                other => {
                    let hint = attr::did_you_mean(other, OPTION_KEYS)
                        .map(|key| format!(" (did you mean `{key}`?)"))
                        .unwrap_or_default();
                    cx.error_at(
                        meta.key.span(),
                        format!(
                            "unknown #[rustyray::remote] option `{other}`{hint}; {VALID_OPTIONS}"
                        ),
                    )
                }
            }
        }
        options
    }
}

/// `max_retries = N` (N: u32), or `-1` for "retry forever" as in Ray.
fn max_retries(cx: &Ctxt, meta: &Meta) -> Option<TokenStream> {
    const USAGE: &str = "max_retries = 3";
    let expr = attr::expect_expr(cx, meta, USAGE)?;
    match attr::number(expr) {
        Some(Ok(n)) if n.is_int && n.value == -1.0 => {
            Some(quote::quote_spanned!(expr.span()=> ::core::primitive::u32::MAX))
        }
        Some(Ok(n)) if n.is_int && n.value >= 0.0 && n.value <= f64::from(u32::MAX) => {
            let lit = syn::LitInt::new(&format!("{}u32", n.value as u32), expr.span());
            Some(lit.into_token_stream())
        }
        Some(Ok(_)) => {
            cx.error_spanned_by(
                expr,
                "`max_retries` takes a whole number of retries from 0 to u32::MAX, \
                 or -1 to retry forever",
            );
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None if matches!(expr, syn::Expr::Lit(_)) => {
            cx.error_spanned_by(expr, format!("expected a number: `{USAGE}`"));
            None
        }
        None => Some(expr.to_token_stream()),
    }
}

/// `num_returns = N`: an integer literal from 1 to [`MAX_RETURNS`] (the
/// macro needs its value).
fn num_returns(cx: &Ctxt, meta: &Meta) -> Option<usize> {
    let expr = attr::expect_expr(cx, meta, "num_returns = 2")?;
    match attr::number(expr) {
        Some(Ok(n)) if n.is_int && n.value >= 1.0 && n.value <= MAX_RETURNS as f64 => {
            Some(n.value as usize)
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        _ => {
            cx.error_spanned_by(
                expr,
                format!(
                    "`num_returns` takes an integer literal from 1 to {MAX_RETURNS}: \
                     the number of objects the function's tuple result is split into"
                ),
            );
            None
        }
    }
}

/// `resources(gpu = 1.0, "my-res" = 2)`.
fn resources(cx: &Ctxt, meta: &Meta, out: &mut Vec<(LitStr, TokenStream)>) {
    let Value::List(_, entries) = &meta.value else {
        cx.error_spanned_by(
            meta.spanned(),
            "expected `resources(gpu = 1.0, \"my-res\" = 2)`",
        );
        return;
    };
    let mut seen: Vec<String> = Vec::new();
    for entry in entries {
        let name = entry.key.to_lit_str();
        if seen.contains(&name.value()) {
            cx.error_at(
                entry.key.span(),
                format!("duplicate resource `{}`: give it once", name.value()),
            );
            continue;
        }
        seen.push(name.value());
        let usage = format!("{} = 1.0", entry.key.to_token_stream());
        if let Some(amount) = attr::amount(cx, entry, &usage) {
            out.push((name, amount));
        }
    }
}

/// The signature rules that do not depend on one argument: receiver-free,
/// non-generic, safe, Rust ABI, not variadic.
fn check_signature(cx: &Ctxt, sig: &syn::Signature) {
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            "#[rustyray::remote] cannot be used on an `unsafe fn`: a task's caller cannot \
             uphold its safety contract; make the function safe, with the `unsafe` block inside",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "#[rustyray::remote] cannot be used on an `extern` function; remove the ABI, \
             or call the function from a plain Rust wrapper",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "#[rustyray::remote] functions cannot be variadic");
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => cx.error_spanned_by(param, LIFETIME_MSG),
            GenericParam::Type(_) | GenericParam::Const(_) => {
                cx.error_spanned_by(param, GENERIC_MSG)
            }
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(where_clause, GENERIC_MSG);
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        cx.error_spanned_by(receiver, SELF_MSG);
    }
}

/// The arguments, each checked to be owned, `'static` and concrete.
fn arguments(cx: &Ctxt, sig: &syn::Signature) -> Vec<Argument> {
    let typed: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat_type) => Some(pat_type),
            FnArg::Receiver(_) => None, // reported by check_signature
        })
        .collect();
    if let Some(extra) = typed.get(MAX_ARGS) {
        cx.error_spanned_by(
            extra,
            format!(
                "#[rustyray::remote] functions take at most {MAX_ARGS} arguments; \
                 group some of them into a struct"
            ),
        );
    }

    // A parameter named like the function would shadow, in the generated
    // `remote`, the function that the task body calls: it is renamed.
    let names = argument_names(&typed, Some(&sig.ident));
    typed
        .iter()
        .zip(names)
        .map(|(arg, name)| {
            check_owned(cx, &arg.ty, Position::Argument);
            Argument {
                name,
                ty: (*arg.ty).clone(),
            }
        })
        .collect()
}

/// The result: `Result<T, E>` detection (syntactic: the last path segment
/// is `Result`) and the `num_returns` split.
fn output(cx: &Ctxt, output: &ReturnType, num_returns: Option<usize>) -> Output {
    let ty = match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    check_owned(cx, &ty, Position::Result);

    let (fallible, value) = match ok_type(&ty) {
        Some(Ok(value)) => (true, value.clone()),
        Some(Err(())) => {
            cx.error_spanned_by(
                &ty,
                "#[rustyray::remote] cannot see the success type of this `Result`; \
                 write it out as `Result<T, E>`",
            );
            (true, ty.clone())
        }
        None => (false, ty.clone()),
    };

    let returns = match num_returns {
        Some(n) if n >= 2 => match strip_group(&value) {
            Type::Tuple(tuple) if tuple.elems.len() == n => {
                Returns::Many(tuple.elems.iter().cloned().collect())
            }
            other => {
                let found = match other {
                    Type::Tuple(tuple) => match tuple.elems.len() {
                        0 => "`()`".to_owned(),
                        1 => "a tuple of 1 element".to_owned(),
                        len => format!("a tuple of {len} elements"),
                    },
                    _ => "not a tuple".to_owned(),
                };
                let example = (b'A'..).take(n).map(|c| (c as char).to_string());
                let example = example.collect::<Vec<_>>().join(", ");
                cx.error_spanned_by(
                    &value,
                    format!(
                        "`num_returns = {n}` splits the result into {n} objects, so the \
                         function must return a tuple of {n} elements (`-> ({example})`); \
                         this result is {found}"
                    ),
                );
                Returns::One(value)
            }
        },
        _ => Returns::One(value),
    };
    Output {
        error_span: fallible.then(|| err_type(&ty).map_or_else(|| ty.span(), |e| e.span())),
        returns,
        stream_item: None,
    }
}

/// A streaming generator's result: `impl Iterator<Item = X> + Send +
/// 'static` (sync) or `impl Stream<Item = X> + Send + 'static` (async); `X`
/// is an object, or `Result<T, E>` whose `Err` ends the stream.
pub fn streaming_output(cx: &Ctxt, sig: &syn::Signature, is_async: bool) -> Output {
    let (trait_name, example) = if is_async {
        ("Stream", "impl futures::Stream<Item = T> + Send + 'static")
    } else {
        ("Iterator", "impl Iterator<Item = T> + Send + 'static")
    };
    let unit: Type = syn::parse_quote!(());
    let found = match &sig.output {
        ReturnType::Type(_, ty) => crate::types::stream_item(ty, trait_name).map(|item| (ty, item)),
        ReturnType::Default => None,
    };
    let Some((ty, item)) = found else {
        let msg = format!(
            "a streaming generator returns `{example}`: each item becomes an object as soon as \
             it is yielded"
        );
        match &sig.output {
            ReturnType::Type(_, ty) => cx.error_spanned_by(ty, msg),
            ReturnType::Default => cx.error_spanned_by(&sig.ident, msg),
        }
        return Output {
            error_span: None,
            returns: Returns::One(unit),
            stream_item: None,
        };
    };
    if let Type::ImplTrait(impl_trait) = &**ty {
        let bounded = |name: &str| {
            impl_trait.bounds.iter().any(|b| match b {
                syn::TypeParamBound::Trait(t) => t.path.is_ident(name),
                syn::TypeParamBound::Lifetime(lt) => lt.ident == name,
                _ => false,
            })
        };
        if !bounded("Send") || !bounded("static") {
            cx.error_spanned_by(
                ty,
                format!(
                    "a streaming generator's items are produced on a worker, after the call \
                     returns: write `{example}`"
                ),
            );
        }
    }
    check_owned(cx, item, Position::Result);
    let (error_span, value) = match ok_type(item) {
        Some(Ok(value)) => (
            Some(err_type(item).map_or_else(|| item.span(), |e| e.span())),
            value.clone(),
        ),
        Some(Err(())) => {
            cx.error_spanned_by(
                item,
                "#[rustyray::remote] cannot see the success type of this `Result`; \
                 write it out as `Result<T, E>`",
            );
            (None, item.clone())
        }
        None => (None, item.clone()),
    };
    Output {
        error_span,
        returns: Returns::One(value),
        stream_item: Some(item.clone()),
    }
}

/// Where a type appears, for the wording of its errors.
#[derive(Clone, Copy, PartialEq)]
enum Position {
    Argument,
    Result,
}

impl Wording for Position {
    const LIFETIME_MSG: &'static str = LIFETIME_MSG;

    fn reference_msg(self, owned: &str) -> String {
        match self {
            Position::Argument => format!(
                "#[rustyray::remote] arguments cannot be references: the task runs later, \
                 on another thread, and cannot borrow from its caller; take an owned \
                 `{owned}` instead (callers may still pass an `ObjectRef<{owned}>` \
                 to share a value without copying it)"
            ),
            Position::Result => format!(
                "a #[rustyray::remote] function cannot return a reference: its result \
                 is stored as an owned object; return `{owned}` instead"
            ),
        }
    }

    fn impl_trait_msg(self) -> &'static str {
        match self {
            Position::Argument => GENERIC_MSG,
            Position::Result => {
                "a #[rustyray::remote] function must return a concrete type, not `impl Trait`: \
                 its result is stored as an object of one known type"
            }
        }
    }

    fn self_type_msg(self) -> Option<&'static str> {
        Some(
            "#[rustyray::remote] goes on a free function, not on an associated function \
             (`Self` has no meaning outside the `impl`); move the function out of the \
             `impl`, or use #[rustyray::actor] for a constructor and methods",
        )
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn model(args: TokenStream, item: TokenStream) -> (Option<RemoteFn>, Vec<String>) {
        let cx = Ctxt::new();
        let model = RemoteFn::from_ast(&cx, args, item);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        };
        (model, errors)
    }

    #[test]
    fn plain_names_are_kept_and_patterns_get_fresh_ones() {
        let (f, errors) = model(
            quote!(),
            quote!(
                fn f(mut a: i64, (x, y): (u8, u8), arg1: bool, f: u8) {}
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<String> = f.unwrap().args.iter().map(|a| a.name.to_string()).collect();
        // `arg1` is taken by the user, `f` would shadow the function.
        assert_eq!(names, ["a", "arg1_", "arg1", "arg3"]);
    }

    #[test]
    fn result_returns_are_unwrapped_syntactically() {
        let (f, _) = model(
            quote!(),
            quote!(
                fn f() -> anyhow::Result<u8> {
                    todo!()
                }
            ),
        );
        let f = f.unwrap();
        assert!(f.output.error_span.is_some());
        assert!(matches!(&f.output.returns, Returns::One(ty) if quote!(#ty).to_string() == "u8"));

        let (f, _) = model(
            quote!(num_returns = 2),
            quote!(
                fn f() -> (u8, String) {
                    todo!()
                }
            ),
        );
        let f = f.unwrap();
        assert!(f.output.error_span.is_none());
        assert!(matches!(&f.output.returns, Returns::Many(tys) if tys.len() == 2));

        let (f, _) = model(
            quote!(num_returns = 1),
            quote!(
                fn f() -> u8 {
                    1
                }
            ),
        );
        assert!(matches!(f.unwrap().output.returns, Returns::One(_)));
    }

    #[test]
    fn every_error_is_reported() {
        let (_, errors) = model(
            quote!(num_cpus = -1, bogus = 1),
            quote!(
                fn f<T>(a: &str, b: Vec<&'static [u8]>) -> &T {
                    todo!()
                }
            ),
        );
        assert_eq!(errors.len(), 6, "{errors:?}");
    }

    #[test]
    fn options_are_normalised() {
        let (f, errors) = model(
            quote!(
                num_cpus = 2,
                max_retries = -1,
                retry_exceptions,
                resources("my-res" = 1)
            ),
            quote!(
                fn f() {}
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let o = f.unwrap().options;
        assert_eq!(o.num_cpus.unwrap().to_string(), "2.0f64");
        assert_eq!(
            o.max_retries.unwrap().to_string(),
            ":: core :: primitive :: u32 :: MAX"
        );
        assert_eq!(o.retry_exceptions.unwrap().to_string(), "true");
        assert_eq!(o.resources[0].0.value(), "my-res");
        assert_eq!(o.resources[0].1.to_string(), "1.0f64");
    }
}

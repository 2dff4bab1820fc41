//! `#[rustyray::test]` and `#[rustyray::main]`: run a function body with a
//! fresh runtime installed.
//!
//! Both parse to the same small model, [`EntryFn`]: the function (which
//! must take no arguments and have no generics) and the `Config` builder
//! calls its attribute asks for. The expansion keeps the function's
//! signature, attributes and doc comments, and starts the body with
//!
//! ```text
//! let __rustyray_guard = ::rustyray::init(::rustyray::Config::default().num_cpus(2))
//!     .expect("rustyray::test: the runtime failed to start");
//! ```
//!
//! The guard is a local declared before the body's statements, so it is
//! dropped last: the runtime shuts down after everything the body created,
//! on every exit path (`return`, `?`, a panic). A sync body stays inline, so
//! `return` and `?` mean what they meant. An async body becomes an inner
//! `async fn` with the original return type (so `?` infers its error type),
//! run by `rustyray::__private::run_async`: it builds a multi-thread tokio
//! runtime whose threads all see the new RustyRay runtime (so futures
//! started with a plain `tokio::spawn` do too), starts the runtime on it,
//! and drives the body there.
//!
//! `#[rustyray::test]` adds `#[::core::prelude::v1::test]` (the built-in,
//! whatever `test` names in scope), so it works under `cargo test` and
//! `cargo nextest` alike; each test owns its runtime, so tests can run in
//! parallel threads.
//!
//! # Attribute arguments
//!
//! `key = value` pairs, each becoming a `Config` setter call:
//! `num_cpus = 2` → `.num_cpus(2)`, `name = "x"` → `.name("x")`, and
//! `resource(gpu = 1.0)` / `resources(gpu = 1, "my-res" = 2.0)` →
//! `.resource("gpu", 1.0f64)`. Any other `key = expr` becomes `.key(expr)`,
//! so a new `Config` setter works without changing this macro (rustc
//! reports an unknown one at the key). The one exception is
//! `crate = "my_ray"`, no setter (`crate` is a keyword) but the path of a
//! renamed `rustyray` dependency, which the expansion then names the
//! runtime by (see [`crate::krate`]).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Ident, ItemFn, Path};

use crate::attr::{self, Meta, Value};
use crate::ctxt::Ctxt;

/// Which entry point.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// `#[rustyray::test]`: adds `#[test]`.
    Test,
    /// `#[rustyray::main]`.
    Main,
}

impl Kind {
    /// The attribute as the user wrote it, for messages.
    fn attribute(self) -> &'static str {
        match self {
            Kind::Test => "#[rustyray::test]",
            Kind::Main => "#[rustyray::main]",
        }
    }
}

/// A checked `#[rustyray::test]` or `#[rustyray::main]` function.
pub struct EntryFn {
    /// Which attribute.
    pub kind: Kind,
    /// The function as written.
    pub item: ItemFn,
    /// `.setter(args)` calls on `Config::default()`, in order.
    pub config: Vec<ConfigCall>,
    /// The runtime crate's path: `::rustyray`, or `crate = ".."`'s.
    pub krate: Path,
}

/// One `Config` builder call.
pub struct ConfigCall {
    /// The setter, spanned at the user's key (so an unknown setter is
    /// reported there).
    pub method: Ident,
    /// Its arguments.
    pub args: Vec<TokenStream>,
}

/// Parses, checks and expands `#[rustyray::test]` / `#[rustyray::main]`.
pub fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let model = EntryFn::from_ast(&cx, kind, args, item.clone());
    match (cx.check(), model) {
        (Ok(()), Some(model)) => model.expand(),
        (result, _) => {
            let mut out = item;
            if let Err(err) = result {
                out.extend(err.to_compile_error());
            }
            out
        }
    }
}

impl EntryFn {
    /// Parses and checks; errors go into `cx`.
    pub fn from_ast(cx: &Ctxt, kind: Kind, args: TokenStream, item: TokenStream) -> Option<Self> {
        let mut krate = None;
        let config = match attr::parse_metas(args) {
            Ok(metas) => config_calls(cx, &metas, &mut krate),
            Err(err) => {
                cx.syn_error(err);
                Vec::new()
            }
        };
        let krate = krate.unwrap_or_else(crate::krate::default_path);
        let item: ItemFn = match syn::parse2(item) {
            Ok(item) => item,
            Err(err) => {
                cx.syn_error(err);
                return None;
            }
        };
        let what = kind.attribute();
        crate::dropped_guard::check(cx, &item.block);
        let sig = &item.sig;
        if !sig.inputs.is_empty() {
            cx.error_spanned_by(
                &sig.inputs,
                match kind {
                    Kind::Test => format!(
                        "{what} functions cannot take arguments: the test harness calls \
                         them with none; in the body, reach the test's runtime with \
                         `rustyray::global()`"
                    ),
                    Kind::Main => format!("{what} cannot be used on a function with arguments"),
                },
            );
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            cx.error_spanned_by(&sig.generics, format!("{what} functions cannot be generic"));
        }
        if let Some(unsafety) = &sig.unsafety {
            cx.error_spanned_by(unsafety, format!("{what} functions cannot be `unsafe`"));
        }
        if kind == Kind::Test {
            for attr in &item.attrs {
                if attr.path().is_ident("test") {
                    cx.error_spanned_by(
                        attr,
                        "#[rustyray::test] already adds #[test]; remove this one",
                    );
                }
            }
        }
        Some(EntryFn {
            kind,
            item,
            config,
            krate,
        })
    }

    /// Expands; see the module docs.
    pub fn expand(&self) -> TokenStream {
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
        } = &self.item;
        let krate = &self.krate;
        let calls: Vec<TokenStream> = self
            .config
            .iter()
            .map(|call| {
                let (method, args) = (&call.method, &call.args);
                quote!(.#method(#(#args),*))
            })
            .collect();
        let expect = match self.kind {
            Kind::Test => "rustyray::test: the runtime failed to start",
            Kind::Main => "rustyray::main: the runtime failed to start",
        };
        let test_attr = match self.kind {
            Kind::Test => quote!(#[::core::prelude::v1::test]),
            Kind::Main => TokenStream::new(),
        };
        // Hygienic: the body cannot name (or shadow) the guard.
        let guard = Ident::new("__rustyray_guard", proc_macro2::Span::mixed_site());
        let init = quote! {
            let #guard = #krate::init(#krate::Config::default() #(#calls)*)
                .expect(#expect);
        };

        let body = if sig.asyncness.is_some() {
            let output = &sig.output;
            let stmts = &block.stmts;
            let what = match self.kind {
                Kind::Test => "rustyray::test",
                Kind::Main => "rustyray::main",
            };
            quote! {
                async fn __rustyray_body() #output {
                    #(#stmts)*
                }
                #krate::__private::run_async(
                    #krate::Config::default() #(#calls)*,
                    #what,
                    __rustyray_body,
                )
            }
        } else {
            let stmts = &block.stmts;
            quote! {
                #init
                #(#stmts)*
            }
        };
        let mut sig = sig.clone();
        sig.asyncness = None;
        quote! {
            #test_attr
            #(#attrs)*
            #vis #sig {
                #body
            }
        }
    }
}

/// The `Config` calls for the attribute's entries; `crate = ".."` goes
/// into `krate` instead.
fn config_calls(cx: &Ctxt, metas: &[Meta], krate: &mut Option<Path>) -> Vec<ConfigCall> {
    let mut calls = Vec::new();
    for meta in metas {
        let attr::Key::Ident(key) = &meta.key else {
            cx.error_spanned_by(&meta.key, "expected a `Config` setter name: `num_cpus = 2`");
            continue;
        };
        let name = meta.key.name();
        if name == "crate" {
            if krate.is_some() {
                cx.error_at(key.span(), "duplicate option `crate`: give it once");
            } else {
                *krate = crate::krate::from_meta(cx, meta);
            }
            continue;
        }
        if attr::is_gpu_key(&name) {
            cx.error_spanned_by(key, attr::gpu_message(&name, "resources(gpu = 2)"));
            continue;
        }
        match &meta.value {
            Value::List(_, entries) if name == "resource" || name == "resources" => {
                for entry in entries {
                    let usage = format!("{} = 1.0", entry.key.to_token_stream());
                    if let Some(amount) = attr::amount(cx, entry, &usage) {
                        let resource = entry.key.to_lit_str();
                        calls.push(ConfigCall {
                            method: Ident::new("resource", key.span()),
                            args: vec![resource.into_token_stream(), amount],
                        });
                    }
                }
            }
            Value::Expr(expr) => calls.push(ConfigCall {
                method: key.clone(),
                args: vec![expr.to_token_stream()],
            }),
            _ => cx.error_spanned_by(
                meta.spanned(),
                format!(
                    "expected `{name} = value` (a `Config` setter and its argument), \
                     or `resources(gpu = 1.0)`"
                ),
            ),
        }
    }
    calls
}

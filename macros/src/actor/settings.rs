//! What a user writes for the macro: the attribute's own arguments, and
//! inside an actor's `impl` the per-function settings, written
//! `#[method(..)]` (Ray's `@ray.method`) or `#[rustyray(..)]`: `local`,
//! `num_returns = N`, `concurrency_group = "io"`, `max_retries = 2`,
//! `retry_exceptions = true`.
//!
//! The attribute takes `crate = "my_ray"`, the path of a renamed `rustyray`
//! dependency ([`attribute`], see [`crate::krate`]), on the struct and on
//! the `impl` alike; on the `impl` also the class defaults
//! ([`ClassOptions`]: `max_restarts`, `max_task_retries`,
//! `max_concurrency`, `num_cpus`, `concurrency_groups(io = 2, ..)`), which
//! `Counter::options()` overrides.
//!
//! [`take_settings`] removes them from the item (rustc knows no
//! `#[rustyray]` attribute, so the emitted `impl` must not carry them) and
//! interprets them into a [`Settings`], reporting a malformed or unknown
//! setting at its span. Whether a setting fits the function it is on (a
//! `num_returns` on a constructor) is a rule of the model: see
//! [`check`](super::check).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ImplItem, Path};

use crate::attr::{self, Meta, Value};
use crate::ctxt::Ctxt;
use crate::remote::MAX_RETURNS;

const SETTINGS_USAGE: &str = "expected `#[method(local)]`, `#[method(num_returns = 2)]`, \
     `#[method(concurrency_group = \"io\")]`, `#[method(max_retries = 2)]`, \
     `#[method(retry_exceptions = true)]` or `#[method(streaming, generator_backpressure = 4)]` \
     on an actor method";

/// The settings a method may carry, for "did you mean" hints.
const SETTING_KEYS: &[&str] = &[
    "local",
    "num_returns",
    "concurrency_group",
    "max_retries",
    "retry_exceptions",
    "streaming",
    "generator_backpressure",
];

const ARGUMENTS_MSG: &str = "#[rustyray::actor] takes `crate = \"..\"` (a renamed dependency) \
     and, on the `impl` block, class defaults: `max_restarts = 2`, `max_task_retries = 1`, \
     `max_concurrency = 4`, `num_cpus = 1.0`, `concurrency_groups(io = 2)`; set the others \
     when creating an actor, with `Counter::options().name(..).remote(..)`";

/// The class keys, for "did you mean" hints.
const CLASS_KEYS: &[&str] = &[
    "crate",
    "max_restarts",
    "max_task_retries",
    "max_concurrency",
    "num_cpus",
    "concurrency_groups",
];

/// The class defaults written on the `impl`, as the `ActorClass` setter
/// calls that make them (`.max_restarts(2i64)`), and where the first was
/// written (they are refused on the struct).
#[derive(Default)]
pub struct ClassOptions {
    /// The setter calls, in order.
    pub setters: Vec<TokenStream>,
    /// Where the first option was written.
    pub first: Option<Span>,
}

/// An integer literal from `min` to `max` for `meta`'s value.
fn integer(cx: &Ctxt, meta: &Meta, usage: &str, min: f64, max: f64) -> Option<(f64, Span)> {
    let expr = attr::expect_expr(cx, meta, usage)?;
    match attr::number(expr) {
        Some(Ok(n)) if n.is_int && n.value >= min && n.value <= max => Some((n.value, expr.span())),
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        _ => {
            cx.error_spanned_by(
                expr,
                format!(
                    "`{}` takes an integer literal {}: `{usage}`",
                    meta.key.name(),
                    if min < 0.0 {
                        "(-1 for no limit)"
                    } else if min > 0.0 {
                        "of at least 1"
                    } else {
                        "of at least 0"
                    }
                ),
            );
            None
        }
    }
}

/// The attribute's arguments: the runtime crate's path, `::rustyray`
/// unless `crate = ".."` says otherwise, and the class defaults. Anything
/// else is reported.
pub fn attribute(cx: &Ctxt, args: TokenStream) -> (Path, ClassOptions) {
    let mut krate = None;
    let mut class = ClassOptions::default();
    let mut seen: Vec<String> = Vec::new();
    match attr::parse_metas(args.clone()) {
        Ok(metas) => {
            for meta in &metas {
                let key = meta.key.name();
                if seen.contains(&key) {
                    cx.error_at(
                        meta.key.span(),
                        format!("duplicate option `{key}`: give it once"),
                    );
                    continue;
                }
                seen.push(key.clone());
                let setter = match key.as_str() {
                    "crate" => {
                        krate = crate::krate::from_meta(cx, meta);
                        continue;
                    }
                    "max_restarts" => integer(cx, meta, "max_restarts = 2", -1.0, i64::MAX as f64)
                        .map(|(n, span)| {
                            let n = syn::LitInt::new(&format!("{}i64", n as i64), span);
                            quote!(.max_restarts(#n))
                        }),
                    "max_task_retries" => {
                        integer(cx, meta, "max_task_retries = 1", -1.0, f64::from(u32::MAX)).map(
                            |(n, span)| {
                                let n = if n < 0.0 { u32::MAX } else { n as u32 };
                                let n = syn::LitInt::new(&format!("{n}u32"), span);
                                quote!(.max_task_retries(#n))
                            },
                        )
                    }
                    "max_concurrency" => {
                        integer(cx, meta, "max_concurrency = 4", 1.0, u32::MAX as f64).map(
                            |(n, span)| {
                                let n = syn::LitInt::new(&format!("{}usize", n as u64), span);
                                quote!(.max_concurrency(#n))
                            },
                        )
                    }
                    "num_cpus" => {
                        attr::amount(cx, meta, "num_cpus = 1.0").map(|n| quote!(.num_cpus(#n)))
                    }
                    "concurrency_groups" => concurrency_groups(cx, meta),
                    other => {
                        let hint = attr::did_you_mean(other, CLASS_KEYS)
                            .map(|key| format!(" (did you mean `{key}`?)"))
                            .unwrap_or_default();
                        cx.error_at(
                            meta.key.span(),
                            format!("unknown #[rustyray::actor] option `{other}`{hint}; {ARGUMENTS_MSG}"),
                        );
                        None
                    }
                };
                class.first.get_or_insert(meta.key.span());
                class.setters.extend(setter);
            }
        }
        Err(_) => cx.error_spanned_by(&args, ARGUMENTS_MSG),
    }
    (krate.unwrap_or_else(crate::krate::default_path), class)
}

/// `concurrency_groups(io = 2, compute = 4)`.
fn concurrency_groups(cx: &Ctxt, meta: &Meta) -> Option<TokenStream> {
    let Value::List(_, entries) = &meta.value else {
        cx.error_spanned_by(
            meta.spanned(),
            "expected `concurrency_groups(io = 2, compute = 4)`",
        );
        return None;
    };
    let mut seen: Vec<String> = Vec::new();
    let mut groups = Vec::new();
    for entry in entries {
        let name = entry.key.to_lit_str();
        if seen.contains(&name.value()) {
            cx.error_at(
                entry.key.span(),
                format!(
                    "duplicate concurrency group `{}`: give it once",
                    name.value()
                ),
            );
            continue;
        }
        seen.push(name.value());
        let usage = format!("{} = 2", name.value());
        if let Some((n, span)) = integer(cx, entry, &usage, 1.0, u32::MAX as f64) {
            let n = syn::LitInt::new(&format!("{}usize", n as u64), span);
            groups.push(quote!((#name, #n)));
        }
    }
    Some(quote!(.concurrency_groups(&[#(#groups),*])))
}

/// The `#[method(..)]` / `#[rustyray(..)]` settings of one function of the
/// `impl`.
#[derive(Default)]
pub struct Settings {
    /// `local`: no handle method.
    pub local: Option<Span>,
    /// `num_returns = N`, and where it was written.
    pub num_returns: Option<(usize, Span)>,
    /// `concurrency_group = "io"`.
    pub concurrency_group: Option<syn::LitStr>,
    /// `max_retries = N` (`-1`: no limit), as a `u32` literal.
    pub max_retries: Option<TokenStream>,
    /// `retry_exceptions = true`.
    pub retry_exceptions: Option<TokenStream>,
    /// `streaming`: the method returns an iterator (or a stream), each item
    /// an object.
    pub streaming: Option<Span>,
    /// `generator_backpressure = n` (with `streaming`), a `usize` literal.
    pub generator_backpressure: Option<(TokenStream, Span)>,
}

/// Removes the `#[rustyray(..)]` settings from one item of the `impl` and
/// interprets them (only functions may have them).
pub fn take_settings(cx: &Ctxt, item: &mut ImplItem) -> Settings {
    let mut settings = Settings::default();
    let (attrs, is_fn) = match item {
        ImplItem::Fn(f) => (&mut f.attrs, true),
        ImplItem::Const(c) => (&mut c.attrs, false),
        ImplItem::Type(t) => (&mut t.attrs, false),
        ImplItem::Macro(m) => (&mut m.attrs, false),
        _ => return settings,
    };
    attrs.retain(|attr| {
        if !attr.path().is_ident("rustyray") && !attr.path().is_ident("method") {
            return true;
        }
        if !is_fn {
            cx.error_spanned_by(attr, "#[method(..)] goes on a function of the actor");
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
        "concurrency_group" => {
            let Some(expr) = attr::expect_expr(cx, meta, "concurrency_group = \"io\"") else {
                return;
            };
            match expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(name),
                    ..
                }) => settings.concurrency_group = Some(name.clone()),
                _ => cx.error_spanned_by(
                    expr,
                    "`concurrency_group` takes a string literal: `concurrency_group = \"io\"`",
                ),
            }
        }
        "max_retries" => {
            if let Some((n, span)) = integer(cx, meta, "max_retries = 2", -1.0, f64::from(u32::MAX))
            {
                let n = if n < 0.0 { u32::MAX } else { n as u32 };
                let n = syn::LitInt::new(&format!("{n}u32"), span);
                settings.max_retries = Some(quote!(#n));
            }
        }
        "retry_exceptions" => match &meta.value {
            Value::Flag => settings.retry_exceptions = Some(quote!(true)),
            Value::Expr(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Bool(b),
                ..
            })) => settings.retry_exceptions = Some(quote!(#b)),
            _ => cx.error_spanned_by(
                meta.spanned(),
                "expected `retry_exceptions = true` or `retry_exceptions = false`",
            ),
        },
        "generator_backpressure" => {
            if let Some((n, span)) = integer(
                cx,
                meta,
                "generator_backpressure = 4",
                1.0,
                f64::from(u32::MAX),
            ) {
                let n = syn::LitInt::new(&format!("{}usize", n as u64), span);
                settings.generator_backpressure = Some((quote!(#n), meta.key.span()));
            }
        }
        "streaming" => match meta.value {
            Value::Flag => settings.streaming = Some(meta.key.span()),
            _ => cx.error_spanned_by(meta.spanned(), "expected `#[method(streaming)]`"),
        },
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

//! What a user writes for the macro: the attribute's own arguments, and
//! inside an actor's `impl` the per-function settings `#[rustyray(local)]`
//! and `#[rustyray(num_returns = N)]`.
//!
//! The attribute takes one option, on the struct and on the `impl` alike:
//! `crate = "my_ray"`, the path of a renamed `rustyray` dependency
//! ([`attribute`], see [`crate::krate`]). An actor's runtime options (name,
//! restarts, ..) are set when creating it, with `Counter::options()`.
//!
//! [`take_settings`] removes them from the item (rustc knows no
//! `#[rustyray]` attribute, so the emitted `impl` must not carry them) and
//! interprets them into a [`Settings`], reporting a malformed or unknown
//! setting at its span. Whether a setting fits the function it is on (a
//! `num_returns` on a constructor) is a rule of the model: see
//! [`check`](super::check).

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{ImplItem, Path};

use crate::attr::{self, Meta, Value};
use crate::ctxt::Ctxt;
use crate::remote::MAX_RETURNS;

const SETTINGS_USAGE: &str =
    "expected `#[rustyray(local)]` or `#[rustyray(num_returns = 2)]` on an actor method";

/// The settings a method may carry, for "did you mean" hints.
const SETTING_KEYS: &[&str] = &["local", "num_returns"];

const ARGUMENTS_MSG: &str = "#[rustyray::actor] takes no arguments but `crate = \"..\"` (a \
     renamed dependency): set an actor's options when creating it, with \
     `Counter::options().name(..).max_restarts(..).remote(..)`";

/// The attribute's arguments: the runtime crate's path, `::rustyray`
/// unless `crate = ".."` says otherwise. Anything else is reported.
pub fn attribute(cx: &Ctxt, args: TokenStream) -> Path {
    let mut krate = None;
    match attr::parse_metas(args.clone()) {
        Ok(metas) => {
            for meta in &metas {
                if meta.key.name() != "crate" {
                    cx.error_spanned_by(meta.spanned(), ARGUMENTS_MSG);
                } else if krate.is_some() {
                    cx.error_at(meta.key.span(), "duplicate option `crate`: give it once");
                } else {
                    krate = crate::krate::from_meta(cx, meta);
                }
            }
        }
        Err(_) => cx.error_spanned_by(&args, ARGUMENTS_MSG),
    }
    krate.unwrap_or_else(crate::krate::default_path)
}

/// The `#[rustyray(..)]` settings of one function of the `impl`.
#[derive(Default)]
pub struct Settings {
    /// `local`: no handle method.
    pub local: Option<Span>,
    /// `num_returns = N`, and where it was written.
    pub num_returns: Option<(usize, Span)>,
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

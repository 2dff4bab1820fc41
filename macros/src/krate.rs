//! The path every expansion names the runtime crate by: `::rustyray`, or
//! what the attribute's `crate = "path"` option says.
//!
//! A user who renamed the dependency in Cargo.toml
//! (`my_ray = { package = "rustyray", .. }`) has no `rustyray` crate in
//! scope, so code that says `::rustyray::ObjectRef` would not compile.
//! Each macro takes `crate = "my_ray"` (a string, as serde's
//! `#[serde(crate = "..")]`) and the expansion then says
//! `my_ray::ObjectRef`. The string is parsed as a module path (`my_ray`,
//! `::my_ray`, `crate::reexported::ray`), spanned at the literal, so it
//! resolves where the attribute is written. The `macro_rules!` the
//! expansions invoke (`__task_options_methods!`, `__actor_options_methods!`)
//! are reached through this path and use `$crate` inside, so they follow.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, ExprLit, Lit, Path};

use crate::attr::{self, Meta};
use crate::ctxt::Ctxt;

/// What to write: `crate = "my_ray"`.
const USAGE: &str = "crate = \"my_ray\"";

/// `::rustyray`, the path when no `crate = ".."` is given.
pub fn default_path() -> Path {
    syn::parse_quote!(::rustyray)
}

/// Reads `crate = "path"`; reports any other shape at its span.
pub fn from_meta(cx: &Ctxt, meta: &Meta) -> Option<Path> {
    let expr = attr::expect_expr(cx, meta, USAGE)?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = expr
    else {
        cx.error_spanned_by(
            expr,
            format!(
                "expected a string: `{USAGE}`, the name the `rustyray` dependency has in \
                 Cargo.toml"
            ),
        );
        return None;
    };
    match lit.parse_with(Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error_spanned_by(
                lit,
                format!(
                    "`{}` is not a path: `crate = \"..\"` takes the name the `rustyray` \
                     dependency has in Cargo.toml (`{USAGE}`), or a path to it",
                    lit.value()
                ),
            );
            None
        }
    }
}

/// `krate`'s tokens, all at `span` (for a call whose error rustc reports
/// at the path: the whole path must be located where the error belongs).
pub fn at(krate: &Path, span: Span) -> TokenStream {
    krate
        .to_token_stream()
        .into_iter()
        .map(|mut token: TokenTree| {
            // A module path is idents and `::` only: no groups to recurse into.
            token.set_span(span);
            token
        })
        .collect()
}

/// `krate` as written in a doc link (`rustyray`, `my_ray`), without a
/// leading `::`, which intra-doc links do not take.
pub fn doc_path(krate: &Path) -> String {
    let text = crate::types::to_string(krate);
    text.trim_start_matches("::").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_paths_have_no_leading_colons() {
        assert_eq!(doc_path(&default_path()), "rustyray");
        let path: Path = syn::parse_quote!(crate::deps::my_ray);
        assert_eq!(doc_path(&path), "crate::deps::my_ray");
    }

    /// Every identifier of `tokens`, groups included.
    fn idents(tokens: TokenStream, out: &mut Vec<String>) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => out.push(ident.to_string()),
                TokenTree::Group(group) => idents(group.stream(), out),
                _ => {}
            }
        }
    }

    /// Asserts that `expansion` names the runtime only as `my_ray`, and
    /// returns its text.
    fn only_my_ray(expansion: TokenStream) -> String {
        let mut all = Vec::new();
        idents(expansion.clone(), &mut all);
        assert!(!all.iter().any(|i| i == "rustyray"), "{expansion}");
        assert!(all.iter().any(|i| i == "my_ray"), "{expansion}");
        expansion.to_string()
    }

    #[test]
    fn no_expansion_names_rustyray_when_crate_is_given() {
        use quote::quote;

        let cx = Ctxt::new();
        let f = crate::remote::RemoteFn::from_ast(
            &cx,
            quote!(crate = "my_ray", num_cpus = 1),
            quote!(
                fn f(a: u8) -> Result<u8, String> {
                    Ok(a)
                }
            ),
        );
        let text = only_my_ray(crate::remote::expand::expand(&f.unwrap()));
        assert!(text.contains("(my_ray::TaskOptions)"), "{text}");

        let mut expansions = Vec::new();
        for item in [
            quote!(
                struct Counter;
            ),
            quote!(
                impl Counter {
                    fn new() -> Result<Self, String> {
                        todo!()
                    }
                    fn get(&self) -> Result<u8, String> {
                        todo!()
                    }
                    async fn get_async(&mut self) -> u8 {
                        todo!()
                    }
                    #[rustyray(num_returns = 2)]
                    fn pair(&self) -> (u8, u8) {
                        todo!()
                    }
                }
            ),
        ] {
            let (model, _) = crate::actor::ActorItem::from_ast(&cx, quote!(crate = "my_ray"), item);
            expansions.push(only_my_ray(crate::actor::expand::expand(&model.unwrap())));
        }
        assert!(
            expansions[0].contains("(my_ray::ActorOptions)"),
            "{}",
            expansions[0]
        );

        for kind in [crate::entry::Kind::Test, crate::entry::Kind::Main] {
            for item in [
                quote!(
                    fn f() {}
                ),
                quote!(
                    async fn f() {}
                ),
            ] {
                let entry = crate::entry::EntryFn::from_ast(
                    &cx,
                    kind,
                    quote!(num_cpus = 1, crate = "my_ray"),
                    item,
                );
                only_my_ray(entry.unwrap().expand());
            }
        }
        cx.check().unwrap();
    }

    #[test]
    fn the_string_is_parsed_as_a_path() {
        let cx = Ctxt::new();
        let metas = attr::parse_metas(quote::quote!(crate = "::my_ray", crate = my_ray)).unwrap();
        let path = from_meta(&cx, &metas[0]).unwrap();
        assert_eq!(path.to_token_stream().to_string(), ":: my_ray");
        assert!(from_meta(&cx, &metas[1]).is_none());
        let errors: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "expected a string: `crate = \"my_ray\"`, the name the `rustyray` dependency has \
              in Cargo.toml"
            ]
        );
    }
}

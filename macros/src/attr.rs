//! The argument syntax shared by every RustyRay attribute:
//! `#[macro(key = value, flag, list(key = value, "string key" = value))]`.
//!
//! [`parse_metas`] turns the attribute's tokens into a small tree of
//! [`Meta`]s without interpreting any key: which keys exist and what their
//! values mean is decided by each macro's model (`remote`, `entry`). The
//! helpers at the bottom read the common value shapes (numbers, strings,
//! booleans) and report a spanned error through the [`Ctxt`] when a value
//! has the wrong shape.
//!
//! Values are ordinary Rust expressions, so a constant works as well as a
//! literal (`num_cpus = CPUS`); literals are checked here, at expansion
//! time, and anything else is left for rustc to type-check at the setter it
//! is passed to.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{token, Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

use crate::ctxt::Ctxt;

/// One `key = value`, `key` or `key(..)` entry of an attribute.
pub struct Meta {
    /// What the entry sets.
    pub key: Key,
    /// Its value.
    pub value: Value,
}

/// The key of a [`Meta`]: an identifier, or a string for names that are not
/// identifiers (resource names such as `"my-res"`).
pub enum Key {
    /// `num_cpus`
    Ident(Ident),
    /// `"my-res"`
    Str(LitStr),
}

/// The value of a [`Meta`].
pub enum Value {
    /// `key` alone.
    Flag,
    /// `key = expr`.
    Expr(Expr),
    /// `key(meta, meta, ..)`.
    List(token::Paren, Vec<Meta>),
}

impl Key {
    /// The key as written, without quotes (`r#` prefixes removed).
    pub fn name(&self) -> String {
        match self {
            Key::Ident(ident) => syn::ext::IdentExt::unraw(ident).to_string(),
            Key::Str(lit) => lit.value(),
        }
    }

    /// Where the key was written.
    pub fn span(&self) -> Span {
        match self {
            Key::Ident(ident) => ident.span(),
            Key::Str(lit) => lit.span(),
        }
    }

    /// The key as a string literal, for a setter that takes a name.
    pub fn to_lit_str(&self) -> LitStr {
        match self {
            Key::Ident(ident) => LitStr::new(&self.name(), ident.span()),
            Key::Str(lit) => lit.clone(),
        }
    }
}

impl ToTokens for Key {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Key::Ident(ident) => ident.to_tokens(tokens),
            Key::Str(lit) => lit.to_tokens(tokens),
        }
    }
}

impl Parse for Key {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            input.parse().map(Key::Str)
        } else if input.peek(<Ident as syn::ext::IdentExt>::peek_any) {
            syn::ext::IdentExt::parse_any(input).map(Key::Ident)
        } else {
            Err(input.error("expected `key = value`"))
        }
    }
}

impl Parse for Meta {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Key = input.parse()?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Value::Expr(input.parse()?)
        } else if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let items = Punctuated::<Meta, Token![,]>::parse_terminated(&content)?;
            Value::List(paren, items.into_iter().collect())
        } else {
            Value::Flag
        };
        Ok(Meta { key, value })
    }
}

impl Meta {
    /// The entry's tokens from key to value, to underline it as a whole.
    pub fn spanned(&self) -> TokenStream {
        let mut tokens = self.key.to_token_stream();
        match &self.value {
            Value::Flag => {}
            Value::Expr(expr) => {
                <Token![=]>::default().to_tokens(&mut tokens);
                expr.to_tokens(&mut tokens);
            }
            Value::List(paren, _) => {
                paren.surround(&mut tokens, |_| {});
            }
        }
        tokens
    }
}

/// Parses an attribute's arguments: a comma-separated list of [`Meta`]s
/// (empty when the attribute has no parentheses).
pub fn parse_metas(args: TokenStream) -> syn::Result<Vec<Meta>> {
    Punctuated::<Meta, Token![,]>::parse_terminated
        .parse2(args)
        .map(|list| list.into_iter().collect())
}

/// A numeric literal, possibly negated: `2`, `0.5`, `-1`.
pub struct Number {
    /// Its value.
    pub value: f64,
    /// Whether it was written as an integer literal.
    pub is_int: bool,
}

/// Reads `expr` as a numeric literal, if it is one (`None` for any other
/// expression; `Some(Err)` for a literal that does not parse).
pub fn number(expr: &Expr) -> Option<syn::Result<Number>> {
    let (negative, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => (true, lit),
            _ => return None,
        },
        _ => return None,
    };
    let (value, is_int) = match lit {
        Lit::Int(int) => (int.base10_parse::<u64>().map(|v| v as f64), true),
        Lit::Float(float) => (float.base10_parse::<f64>(), false),
        _ => return None,
    };
    Some(value.map(|value| Number {
        value: if negative { -value } else { value },
        is_int,
    }))
}

/// The expression of a `key = value` entry; reports `key` alone or
/// `key(..)` as an error showing the expected `usage`.
pub fn expect_expr<'a>(cx: &Ctxt, meta: &'a Meta, usage: &str) -> Option<&'a Expr> {
    match &meta.value {
        Value::Expr(expr) => Some(expr),
        _ => {
            cx.error_spanned_by(meta.spanned(), format!("expected `{usage}`"));
            None
        }
    }
}

/// An amount (CPUs, a resource): a non-negative number literal becomes an
/// `f64` literal; another expression is passed through for rustc to check
/// against the setter's `impl Into<f64>`.
pub fn amount(cx: &Ctxt, meta: &Meta, usage: &str) -> Option<TokenStream> {
    let expr = expect_expr(cx, meta, usage)?;
    match number(expr) {
        Some(Ok(n)) if n.value >= 0.0 && n.value.is_finite() => {
            Some(f64_literal(n.value, expr_span(expr)))
        }
        Some(Ok(_)) => {
            cx.error_spanned_by(expr, format!("`{}` cannot be negative", meta.key.name()));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None if is_literal(expr) => {
            cx.error_spanned_by(expr, format!("expected a number: `{usage}`"));
            None
        }
        None => Some(expr.to_token_stream()),
    }
}

/// A flag: `key` alone means `true`; a `bool` literal or another expression
/// is passed through.
pub fn boolean(cx: &Ctxt, meta: &Meta, usage: &str) -> Option<TokenStream> {
    match &meta.value {
        Value::Flag => Some(quote::quote_spanned!(meta.key.span()=> true)),
        Value::Expr(Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        })) => Some(b.to_token_stream()),
        Value::Expr(expr) if is_literal(expr) => {
            cx.error_spanned_by(expr, format!("expected `true` or `false`: `{usage}`"));
            None
        }
        _ => expect_expr(cx, meta, usage).map(ToTokens::to_token_stream),
    }
}

/// A string: a string literal or another expression, passed through.
pub fn string(cx: &Ctxt, meta: &Meta, usage: &str) -> Option<TokenStream> {
    let expr = expect_expr(cx, meta, usage)?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(_), ..
        }) => Some(expr.to_token_stream()),
        _ if is_literal(expr) => {
            cx.error_spanned_by(expr, format!("expected a string: `{usage}`"));
            None
        }
        _ => Some(expr.to_token_stream()),
    }
}

/// An `f64` literal with this value (`2.0f64`), at `span`.
pub fn f64_literal(value: f64, span: Span) -> TokenStream {
    syn::LitFloat::new(&format!("{value:?}f64"), span).into_token_stream()
}

/// Whether `expr` is a literal (possibly negated), whose type the macro can
/// check itself.
fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) => true,
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => matches!(**expr, Expr::Lit(_)),
        _ => false,
    }
}

/// The span of the first token of `expr` (for a generated literal).
fn expr_span(expr: &Expr) -> Span {
    expr.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// The candidate closest to `word` if it is a plausible typo of it (at most
/// a third of its letters, and at least two, edited), for "did you mean"
/// hints.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether `key` asks for GPUs the way Ray spells it (`num_gpus`).
pub fn is_gpu_key(key: &str) -> bool {
    matches!(key, "num_gpus" | "num_gpu" | "gpus" | "gpu")
}

/// What to write instead of `key = ..`: GPUs are a custom resource.
/// `instead` is the spelling where `key` was written.
pub fn gpu_message(key: &str, instead: &str) -> String {
    format!(
        "RustyRay has no `{key}`: a GPU is a custom resource; ask for it with `{instead}`, and \
         declare how many the runtime has with `Config::default().resource(\"gpu\", 2.0)`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_hint() {
        let keys = ["num_cpus", "max_retries", "name"];
        assert_eq!(did_you_mean("num_cpu", &keys), Some("num_cpus"));
        assert_eq!(did_you_mean("max_retry", &keys), Some("max_retries"));
        assert_eq!(did_you_mean("gpus", &keys), None);
    }

    #[test]
    fn nested_lists_and_string_keys_parse() {
        let metas =
            parse_metas(quote::quote!(a = 1, b, resources(gpu = 1.0, "my-res" = 2),)).unwrap();
        assert_eq!(metas.len(), 3);
        assert!(matches!(metas[1].value, Value::Flag));
        let Value::List(_, items) = &metas[2].value else {
            panic!("not a list")
        };
        assert_eq!(items[1].key.name(), "my-res");
    }
}

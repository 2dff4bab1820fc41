//! The error collector every parse and check step writes into.
//!
//! A macro should report *every* mistake in its input at once, each at the
//! span that caused it, instead of stopping at the first. So the parse and
//! check functions do not return `Result`: they push a [`syn::Error`] into a
//! [`Ctxt`] and carry on with whatever they could make sense of. When the
//! model is complete, [`Ctxt::check`] hands back all the errors, combined
//! into one, which the entry point turns into `compile_error!` invocations.
//!
//! This is the shape of serde_derive's `internals/ctxt.rs`: forgetting to
//! call `check` is a bug in the macro, caught by a panic in `Drop`.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects the errors found while building a model; see the module docs.
pub struct Ctxt {
    /// `None` once [`check`](Self::check) has consumed the errors.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// An empty collector.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanning the tokens of `obj` (all of them, so a
    /// multi-token type or expression is underlined as a whole).
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, obj: T, msg: M) {
        self.syn_error(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Records an error at one span.
    pub fn error_at<M: Display>(&self, span: proc_macro2::Span, msg: M) {
        self.syn_error(syn::Error::new(span, msg));
    }

    /// Records an error produced by syn itself (a parse error).
    pub fn syn_error(&self, err: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check()")
            .push(err);
    }

    /// Consumes the collector: `Ok` when nothing was recorded, otherwise
    /// every error combined into one (each keeps its own span).
    pub fn check(self) -> syn::Result<()> {
        let mut errors = self
            .errors
            .borrow_mut()
            .take()
            .expect("Ctxt::check called twice")
            .into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for err in errors {
            combined.combine(err);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("rustyray-macros: a Ctxt was dropped without check()");
        }
    }
}

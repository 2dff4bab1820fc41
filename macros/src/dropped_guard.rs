//! A newcomer's mistake the macros catch in the bodies they see:
//! `let _ = rustyray::init(..)` drops the runtime guard at once (`_` binds
//! nothing), so the runtime shuts down on the same line and every later call
//! finds none. `#[rustyray::main]`, `#[rustyray::test]` and
//! `#[rustyray::remote]` report it at the statement.

use syn::visit::Visit;
use syn::{Expr, Local, Pat};

use crate::ctxt::Ctxt;

const MSG: &str = "`let _ = ..init(..)` drops the runtime guard at once: `_` binds nothing, so \
     the runtime shuts down on this line and later calls find none; keep the guard in a \
     variable for as long as the runtime is needed: `let _rt = rustyray::init(..)?;`";

/// Reports every `let _ = <..>init(..)` in `block`.
pub fn check(cx: &Ctxt, block: &syn::Block) {
    Finder { cx }.visit_block(block);
}

struct Finder<'a> {
    cx: &'a Ctxt,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_local(&mut self, local: &'ast Local) {
        if let (Pat::Wild(_), Some(init)) = (&local.pat, &local.init) {
            if calls_init(&init.expr) {
                self.cx.error_spanned_by(local, MSG);
            }
        }
        syn::visit::visit_local(self, local);
    }

    // Items inside the body are not the body's statements.
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// `init(..)` or `path::init(..)`, possibly behind `?`, `.unwrap()`,
/// `.expect(..)` or parentheses.
fn calls_init(expr: &Expr) -> bool {
    match expr {
        Expr::Call(call) => matches!(
            &*call.func,
            Expr::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "init")
        ),
        Expr::Try(e) => calls_init(&e.expr),
        Expr::Paren(e) => calls_init(&e.expr),
        Expr::MethodCall(m) if m.method == "unwrap" || m.method == "expect" => {
            calls_init(&m.receiver)
        }
        _ => false,
    }
}

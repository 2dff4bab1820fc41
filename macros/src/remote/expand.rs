//! Code generation for `#[rustyray::remote]`, from a checked [`RemoteFn`].
//!
//! For `pub fn add(a: i64, b: i64) -> i64` the expansion is, next to the
//! untouched function:
//!
//! ```text
//! pub struct add { _private: () }                  // type namespace only
//! impl add {
//!     pub fn remote(a: impl IntoArg<i64>, b: impl IntoArg<i64>)
//!         -> Result<ObjectRef<i64>> { Self::options().remote(a, b) }
//!     pub fn options() -> __rustyray_add_options { /* TaskOptions::__new + attribute options */ }
//! }
//! pub struct __rustyray_add_options(TaskOptions);  // #[doc(hidden)]
//! impl __rustyray_add_options {
//!     __task_options_methods!();                   // name, num_cpus, resource, ...
//!     pub fn remote(self, a: .., b: ..) -> Result<ObjectRef<i64>> {
//!         fn __rustyray_submit<A0: Object, A1: Object, R0: Object, F>(..) { submit_sync(..) }
//!         __rustyray_submit::<i64, i64, i64, _>(self.0, (into_arg(a), into_arg(b)),
//!             |(__arg0, __arg1): (i64, i64)| Ok(One(add(__arg0, __arg1))))
//!     }
//! }
//! ```
//!
//! A braced struct lives in the type namespace only, so it shares the
//! function's name without clashing and `add(1, 2)` still calls the
//! function; no module is needed, so this works for functions declared
//! inside a function body too. Both types take the function's visibility,
//! so `options()` never returns a type less visible than itself.
//!
//! Everything else (argument lists, return conversion, submission) lives in
//! `rustyray::__private`, which keeps the expansion small.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Path, Type};

use super::{RemoteFn, Returns};

/// Expands a checked remote function; see the module docs.
pub fn expand(f: &RemoteFn) -> TokenStream {
    let RemoteFn {
        item,
        cfgs,
        vis,
        ident,
        krate,
        ..
    } = f;
    let name = f.name();
    let doc_krate = crate::krate::doc_path(krate);
    let options_ident = format_ident!("__rustyray_{}_options", name);

    let params: Vec<TokenStream> = f
        .args
        .iter()
        .map(|arg| {
            let (name, ty) = (&arg.name, &arg.ty);
            quote!(#name: impl #krate::IntoArg<#ty>)
        })
        .collect();
    let names: Vec<&Ident> = f.args.iter().map(|arg| &arg.name).collect();
    let refs = ref_type(krate, &f.output.returns);
    let options = option_calls(f);
    let submit = submit(f);

    let handle_doc = format!(
        "Remote handle of [`{name}`](fn@{name}): `{name}::remote(..)` submits it as a task \
         and returns at once with a ref to its result; `{name}::options()` sets per-call \
         options first."
    );
    let remote_doc = format!(
        "Submits `{name}` as a task with its default options; returns at once. Each \
         argument is a value, an `ObjectRef` or a `&ObjectRef`."
    );
    let options_doc = format!(
        "Per-call options of `{name}`, starting from its `#[remote(..)]` attribute: \
         the setters of [`TaskOptions`]({doc_krate}::TaskOptions) (`name`, `num_cpus`, \
         `resource`, `max_retries`, `retry_exceptions`, `on`), then `.remote(..)`."
    );

    quote! {
        #item

        #(#cfgs)*
        #[doc = #handle_doc]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {
            _private: (),
        }

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #ident {
            #[doc = #remote_doc]
            pub fn remote(#(#params),*) -> #krate::Result<#refs> {
                Self::options().remote(#(#names),*)
            }

            #[doc = #options_doc]
            pub fn options() -> #options_ident {
                #options_ident(
                    #krate::TaskOptions::__new(
                        ::core::concat!(::core::module_path!(), "::", #name)
                    )
                    #options
                )
            }
        }

        #(#cfgs)*
        #[doc = #options_doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #options_ident(#krate::TaskOptions);

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #options_ident {
            #krate::__task_options_methods!();

            /// Submits the task with these options; returns at once.
            pub fn remote(self, #(#params),*) -> #krate::Result<#refs> {
                #submit
            }
        }

    }
}

/// What the caller gets back: `ObjectRef<T>`, or a tuple of refs.
fn ref_type(krate: &Path, returns: &Returns) -> TokenStream {
    match returns {
        Returns::One(ty) => quote!(#krate::ObjectRef<#ty>),
        Returns::Many(tys) => quote!((#(#krate::ObjectRef<#tys>,)*)),
    }
}

/// `.num_cpus(..)`, `.max_retries(..)`, … for each option given.
fn option_calls(f: &RemoteFn) -> TokenStream {
    let o = &f.options;
    let mut calls = TokenStream::new();
    if let Some(n) = &o.num_cpus {
        calls.extend(quote!(.num_cpus(#n)));
    }
    if let Some(n) = &o.max_retries {
        calls.extend(quote!(.max_retries(#n)));
    }
    if let Some(yes) = &o.retry_exceptions {
        calls.extend(quote!(.retry_exceptions(#yes)));
    }
    if let Some(name) = &o.name {
        calls.extend(quote!(.name(#name)));
    }
    for (resource, amount) in &o.resources {
        calls.extend(quote!(.resource(#resource, #amount)));
    }
    calls
}

/// The body of `options().remote(..)`: submits the argument tuple and the
/// closure that runs the function and converts its result.
///
/// The submission goes through a small generic function whose parameters
/// are bounded by `Object` and instantiated with the user's types, each
/// spanned at the user's type. A type that is not an `Object` then fails
/// exactly there ("`T` cannot be a RustyRay object …", pointing at the
/// argument or result type), and nowhere else: `submit_sync`'s own bounds
/// hold generically inside the helper, so rustc adds no errors about
/// `ArgList`/`TaskReturn` at the attribute.
fn submit(f: &RemoteFn) -> TokenStream {
    let (ident, krate) = (&f.ident, &f.krate);
    let names: Vec<&Ident> = f.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = f.args.iter().map(|arg| &arg.ty).collect();
    // Fresh, hygienic bindings: they cannot shadow the function's name (a
    // parameter may be called like the function itself).
    let bindings: Vec<Ident> = (0..f.args.len())
        .map(|i| Ident::new(&format!("__arg{i}"), Span::mixed_site()))
        .collect();
    let arg_params: Vec<Ident> = (0..f.args.len()).map(|i| format_ident!("A{i}")).collect();
    let ret_tys: Vec<&Type> = match &f.output.returns {
        Returns::One(ty) => vec![ty],
        Returns::Many(tys) => tys.iter().collect(),
    };
    let ret_params: Vec<Ident> = (0..ret_tys.len()).map(|i| format_ident!("R{i}")).collect();

    // What the helper returns and what the closure produces, over the
    // helper's generic parameters.
    let (refs, task_return) = match &f.output.returns {
        Returns::One(_) => (
            quote!(#krate::ObjectRef<R0>),
            quote!(#krate::__private::One<R0>),
        ),
        Returns::Many(_) => (
            quote!((#(#krate::ObjectRef<#ret_params>,)*)),
            quote!(#krate::__private::Many<(#(#ret_params,)*)>),
        ),
    };
    let output = quote! {
        ::core::result::Result<#task_return, #krate::__private::UserError>
    };
    let (submit_fn, fut_param, body_bounds) = if f.is_async {
        (
            quote!(#krate::__private::submit_async),
            quote!(, Fut),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> Fut
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                Fut: ::core::future::Future<Output = #output> + ::core::marker::Send + 'static,
            },
        )
    } else {
        (
            quote!(#krate::__private::submit_sync),
            TokenStream::new(),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> #output
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
            },
        )
    };
    let infer_fut = if f.is_async {
        quote!(, _)
    } else {
        TokenStream::new()
    };
    // The user's type tokens keep their spans: a missing `Object` impl is
    // reported at the type as written.
    let turbofish = tys.iter().chain(&ret_tys);

    let call = if f.is_async {
        quote!(#ident(#(#bindings),*).await)
    } else {
        quote!(#ident(#(#bindings),*))
    };
    let wrap = match f.output.returns {
        Returns::One(_) => quote!(#krate::__private::One),
        Returns::Many(_) => quote!(#krate::__private::Many),
    };
    let result = match &f.output.error_span {
        // `user_error` needs `E: Display`: a missing impl is reported (once)
        // at the error type.
        Some(span) => {
            // Located at the user's type but resolved in the macro's
            // context, so that lints treat it as generated code.
            let span = Span::call_site().located_at(*span);
            let krate = crate::krate::at(krate, span);
            let to_user_error = quote_spanned!(span=> |__err| #krate::__private::user_error(__err));
            quote!(#call.map(#wrap).map_err(#to_user_error))
        }
        None => quote!(#krate::__private::Ok(#wrap(#call))),
    };
    let closure = if f.is_async {
        quote!(|(#(#bindings,)*): (#(#tys,)*)| async move { #result })
    } else {
        quote!(|(#(#bindings,)*): (#(#tys,)*)| #result)
    };

    quote! {
        fn __rustyray_submit<#(#arg_params: #krate::Object,)* #(#ret_params: #krate::Object,)* F #fut_param>(
            __options: #krate::TaskOptions,
            __args: (#(#krate::Arg<#arg_params>,)*),
            __body: F,
        ) -> #krate::Result<#refs>
        where
            #body_bounds
        {
            #submit_fn(__options, __args, __body)
        }

        __rustyray_submit::<#(#turbofish,)* _ #infer_fut>(
            self.0,
            (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            #closure,
        )
    }
}

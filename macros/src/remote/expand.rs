//! Code generation for `#[rustyray::remote]`, from a checked [`RemoteFn`].
//!
//! For `pub fn add(a: i64, b: i64) -> i64` the expansion is, next to the
//! untouched function:
//!
//! ```text
//! mod __rustyray_add {                                 // the handle's module
//!     pub struct add { _private: () }                  // type namespace only
//!     #[doc(hidden)]
//!     pub struct __rustyray_add_options(pub(super) TaskOptions);
//! }
//! pub use __rustyray_add::*;                           // `add` names the handle
//! impl __rustyray_add::add {
//!     pub fn remote(a: impl IntoArg<i64>, b: impl IntoArg<i64>)
//!         -> Result<ObjectRef<i64>> { Self::options().remote(a, b) }
//!     pub fn options() -> __rustyray_add::__rustyray_add_options {
//!         /* TaskOptions::__new(module_path!() + "::add") + attribute options */
//!     }
//! }
//! impl __rustyray_add::__rustyray_add_options {
//!     __task_options_methods!();                       // name, num_cpus, resource, ...
//!     pub fn remote(self, a: .., b: ..) -> Result<ObjectRef<i64>> {
//!         fn __rustyray_submit<A0: Object, A1: Object, R0: Object, F>(..) { submit_sync(..) }
//!         __rustyray_submit::<i64, i64, i64, _>(self.0, (into_arg(a), into_arg(b)),
//!             |(__arg0, __arg1): (i64, i64)| Ok(One(add(__arg0, __arg1))))
//!     }
//! }
//! ```
//!
//! # Why a glob-imported module
//!
//! `add::remote(..)` needs a type named `add`. A braced struct lives in the
//! type namespace only, so it shares the function's name (`add(1, 2)` still
//! calls the function). Declared next to the function, though, it clashes
//! (E0428) with a module or type the user already named `add` there. So
//! the struct is declared in a module of its own and brought in by a glob
//! import: an item declared in the module shadows a glob import without
//! error, so with the user's `mod add` the expansion still compiles and
//! `add` keeps meaning the user's module. The handle is then reached by its
//! module's name, `__rustyray_add::add::remote(..)`, in the function's
//! module and its children, or re-exported under a name of the user's
//! choice (the `remote` macro's docs say so, under "Name clashes"). The module's name starts with
//! `__rustyray_`, so declaring it clashes with no name a user writes; the
//! options builder is declared in it too, so that its name cannot clash
//! with another function's module either (`fn x`'s builder and
//! `fn x_options`'s module would both be `__rustyray_x_options`).
//!
//! The glob import's path is relative (`use __rustyray_add::*`, not
//! `self::..`): inside a function body `self::` names the enclosing module,
//! so `self::__rustyray_add` would miss the block's own module (or, worse,
//! find the module-level function's of the same name); a relative path
//! finds the block's first.
//!
//! The glob has a cost, also documented there: it ties with another glob.
//! A child module that glob-imports its parent (`use super::*`) and
//! declares a remote function named like one of the parent's gets the
//! parent's `__rustyray_add` and `add` through that glob and its own
//! through the expansion, and rustc calls both ambiguous (E0659, at the
//! attribute and where `add::` is used); the explicit struct of before
//! shadowed the parent's. A same-named item in the module is the likelier
//! case, and the one the glob makes work.
//!
//! Only the two structs live in the module; everything that names the
//! user's types or the function itself (the `impl`s) stays next to the
//! function, where those names resolve as the user wrote them. That
//! matters inside a function body: `super::` from a module there reaches
//! the enclosing module, not the block's items, so a module could not name
//! a block-local function or type, while an `impl` in the block can. Items
//! declared inside the module are `pub` (a visibility written on the
//! function means something else one module down); what the outside sees
//! is decided by the glob's visibility, the function's. The module itself
//! stays private and is not `#[doc(hidden)]`: rustdoc then inlines the
//! glob's items where the function is, documenting the handle `add` next
//! to the function and leaving out the `#[doc(hidden)]` builder (a
//! `#[doc(inline)]` glob would show both). The options struct's field is
//! `pub(super)`: the functions next to the function build and read it.
//!
//! One diagnostic reads worse for it: rustc names a method of an `impl`
//! written outside its type's module `<impl add>::remote` instead of
//! `add::remote` (in "required by a bound in .." notes).
//!
//! Shapes not taken: a module named like the function (what the handle
//! would be reached through) clashes the same way; a distinct type name
//! (`AddRemote::remote`) or a method on the function item
//! (`add.remote(..)`, through a trait) changes the API every caller
//! writes; and the whole `impl` inside the module, its names reached with
//! `use super::*`, cannot reach a function or type declared in a block.
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
    let (module, options_ident) = handle_idents(f);
    let params = handle_params(f);
    let names: Vec<&Ident> = f.args.iter().map(|arg| &arg.name).collect();
    let refs = match f.output.stream_item {
        Some(_) => stream_type(krate, &f.output.returns),
        None => ref_type(krate, &f.output.returns),
    };
    let options = option_calls(f);
    let Submission {
        helper,
        remote: submit,
        by_name,
        entry,
    } = match f.output.stream_item {
        Some(_) => submit_streaming(f),
        None => submit(f),
    };
    let split = super::split::expand(f);
    let (split_by_name, split_entry) = super::split::by_name(f);

    // No intra-doc link to the function here: this doc is resolved in the
    // handle's module, where `{name}` is the handle itself.
    let handle_doc = format!(
        "Remote handle of the function `{name}`: `{name}::remote(..)` submits it as a task \
         and returns at once with a ref to its result; `{name}::options()` sets per-call \
         options first."
    );
    let module_doc = format!(
        "The remote handle of `{name}` and its options builder, glob-imported next to \
         the function (see `#[rustyray::remote]`, \"Name clashes\")."
    );
    let remote_doc = format!(
        "Submits [`{name}`](fn@{name}) as a task with its default options; returns at once. \
         Each argument is a value, an `ObjectRef` or a `&ObjectRef`."
    );
    let options_doc = format!(
        "Per-call options of `{name}`, starting from its `#[remote(..)]` attribute: \
         the setters of [`TaskOptions`]({doc_krate}::TaskOptions) (`name`, `num_cpus`, \
         `resource`, `max_retries`, `retry_exceptions`, `on`), then `.remote(..)`."
    );

    quote! {
        #item

        #(#cfgs)*
        #[doc = #module_doc]
        #[allow(unreachable_pub)]
        mod #module {
            #[doc = #handle_doc]
            #[allow(non_camel_case_types, dead_code)]
            pub struct #ident {
                _private: (),
            }

            #[doc = #options_doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct #options_ident(pub(super) #krate::TaskOptions);
        }

        #(#cfgs)*
        #[allow(unused_imports)]
        #vis use #module::*;

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #module::#ident {
            #[doc = #remote_doc]
            pub fn remote(#(#params),*) -> #krate::Result<#refs> {
                Self::options().remote(#(#names),*)
            }

            #[doc = #options_doc]
            pub fn options() -> #module::#options_ident {
                #module::#options_ident(
                    #krate::TaskOptions::__new(
                        ::core::concat!(::core::module_path!(), "::", #name)
                    )
                    #options
                )
            }
        }

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #module::#options_ident {
            #krate::__task_options_methods!();

            #helper

            /// Submits the task with these options; returns at once.
            pub fn remote(self, #(#params),*) -> #krate::Result<#refs> {
                #submit
            }
        }

        // The function by name (see `rustyray::registry`).
        #(#cfgs)*
        const _: () = {
            #by_name
            #split_by_name

            fn __rustyray_options() -> #krate::TaskOptions {
                #module::#ident::options().into_options()
            }

            #krate::__private::inventory::submit! {
                #krate::__private::Entry::Function(#krate::registry::Function::__new(
                    ::core::concat!(::core::module_path!(), "::", #name),
                    __rustyray_options,
                    __rustyray_by_name,
                )#entry #split_entry)
            }
        };

        #split
    }
}

/// What the caller gets back: `ObjectRef<T>`, or a tuple of refs.
fn ref_type(krate: &Path, returns: &Returns) -> TokenStream {
    match returns {
        Returns::One(ty) => quote!(#krate::ObjectRef<#ty>),
        Returns::Many(tys) => quote!((#(#krate::ObjectRef<#tys>,)*)),
    }
}

/// What a streaming generator's caller gets: `ObjectRefStream<T>`.
pub fn stream_type(krate: &Path, returns: &Returns) -> TokenStream {
    match returns {
        Returns::One(ty) => quote!(#krate::ObjectRefStream<#ty>),
        Returns::Many(_) => quote!(()),
    }
}

/// The closure converting a streaming generator's item (`item`, as
/// written) into its value or a `UserError` ending the stream.
pub fn stream_convert(krate: &Path, item: &Type, error_span: Option<Span>) -> TokenStream {
    let binding = Ident::new("__item", Span::mixed_site());
    match error_span {
        Some(span) => {
            let span = Span::call_site().located_at(span);
            let krate_at = crate::krate::at(krate, span);
            let to_user_error =
                quote_spanned!(span=> |__err| #krate_at::__private::user_error(__err));
            quote!(|#binding: #item| #binding.map_err(#to_user_error))
        }
        None => quote!(|#binding: #item| #krate::__private::Ok(#binding)),
    }
}

/// The submission of a streaming generator: a helper bounded like
/// [`submit`]'s, over the iterator (or future and stream) the function
/// returns and the item conversion. By name, the registry's entry streams
/// the items encoded with the call's codec (`remote_streaming`).
fn submit_streaming(f: &RemoteFn) -> Submission {
    let (ident, krate) = (&f.ident, &f.krate);
    let name = f.name();
    let names: Vec<&Ident> = f.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = f.args.iter().map(|arg| &arg.ty).collect();
    let bindings: Vec<Ident> = (0..f.args.len())
        .map(|i| Ident::new(&format!("__arg{i}"), Span::mixed_site()))
        .collect();
    let arg_params: Vec<Ident> = (0..f.args.len()).map(|i| format_ident!("A{i}")).collect();
    let ret = match &f.output.returns {
        Returns::One(ty) => ty.clone(),
        Returns::Many(_) => syn::parse_quote!(()),
    };
    let Some(item) = &f.output.stream_item else {
        unreachable!("submit_streaming is for generators")
    };
    let user_error = quote!(#krate::__private::UserError);
    let (params, bounds, method, infer, body) = if f.is_async {
        (
            quote!(Fut, S, X, C),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> Fut
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                Fut: ::core::future::Future<Output = S> + ::core::marker::Send + 'static,
                S: #krate::__private::Stream<Item = X> + ::core::marker::Send + 'static,
                X: ::core::marker::Send + 'static,
            },
            quote!(submit_streaming_async),
            quote!(_, _, _, _, _),
            quote!(|(#(#bindings,)*): (#(#tys,)*)| async move { #ident(#(#bindings),*).await }),
        )
    } else {
        (
            quote!(I, X, C),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> I
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                I: ::core::iter::IntoIterator<Item = X>,
            },
            quote!(submit_streaming),
            quote!(_, _, _, _),
            quote!(|(#(#bindings,)*): (#(#tys,)*)| #ident(#(#bindings),*)),
        )
    };
    let convert = stream_convert(krate, item, f.output.error_span);
    let helper = quote! {
        fn __rustyray_submit<#(#arg_params: #krate::Object,)* R0: #krate::Object, F, #params>(
            __call: #krate::__private::Call<'_, (#(#krate::Arg<#arg_params>,)*)>,
            __body: F,
            __convert: C,
        ) -> #krate::Result<#krate::ObjectRefStream<R0>>
        where
            #bounds
            C: ::core::ops::Fn(X) -> ::core::result::Result<R0, #user_error>
                + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            __call.#method(__body, __convert)
        }
    };
    let remote = quote! {
        Self::__rustyray_submit::<#(#tys,)* #ret, #infer>(
            #krate::__private::Call::Typed(
                self.0,
                (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            ),
            #body,
            #convert,
        )
    };
    let (module, options_ident) = handle_idents(f);
    let by_name = quote! {
        fn __rustyray_by_name(
            _: #krate::TaskOptions,
            _: #krate::Codec,
            _: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedRefs> {
            #krate::__private::Err(#krate::__private::streaming_by_name(
                ::core::concat!(::core::module_path!(), "::", #name),
            ))
        }

        fn __rustyray_stream_by_name(
            __options: #krate::TaskOptions,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedStream> {
            let __convert = #convert;
            #module::#options_ident::__rustyray_submit::<
                #(#tys,)* ::std::vec::Vec<u8>, #infer
            >(
                #krate::__private::Call::ByName(__options, __codec, __args),
                #body,
                move |__x| __convert(__x)
                    .and_then(|__v| #krate::__private::encode_item(__codec, &__v)),
            )
        }
    };
    Submission {
        helper,
        remote,
        by_name,
        entry: quote!(.__streaming(__rustyray_stream_by_name)),
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
fn submit(f: &RemoteFn) -> Submission {
    let module = format_ident!("__rustyray_{}", f.name());
    let options_ident = format_ident!("__rustyray_{}_options", f.name());
    let options_path = quote!(#module::#options_ident);
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
    let (submit_method, fut_param, body_bounds) = if f.is_async {
        (
            quote!(submit_async),
            quote!(, Fut),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> Fut
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                Fut: ::core::future::Future<Output = #output> + ::core::marker::Send + 'static,
            },
        )
    } else {
        (
            quote!(submit_sync),
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

    // One helper, an associated function of the options builder, serves
    // both the typed call and the registry's entry: a type that is not an
    // `Object` fails its bounds with the same error at the same span from
    // both, which rustc reports once.
    let submitted = quote!(#krate::__private::Submitted);
    let helper = quote! {
        fn __rustyray_submit<
            #(#arg_params: #krate::Object,)* #(#ret_params: #krate::Object,)* F #fut_param
        >(
            __call: #krate::__private::Call<'_, (#(#krate::Arg<#arg_params>,)*)>,
            __body: F,
        ) -> #krate::Result<#submitted<#refs>>
        where
            #body_bounds
        {
            __call.#submit_method(__body)
        }
    };
    let remote = quote! {
        Self::__rustyray_submit::<#(#turbofish,)* _ #infer_fut>(
            #krate::__private::Call::Typed(
                self.0,
                (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            ),
            #closure,
        )
        .and_then(#submitted::typed)
    };
    let turbofish = tys.iter().chain(&ret_tys);
    let by_name = quote! {
        fn __rustyray_by_name(
            __options: #krate::TaskOptions,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedRefs> {
            #options_path::__rustyray_submit::<#(#turbofish,)* _ #infer_fut>(
                #krate::__private::Call::ByName(__options, __codec, __args),
                #closure,
            )
            .and_then(#submitted::by_name)
        }
    };
    Submission {
        helper,
        remote,
        by_name,
        entry: TokenStream::new(),
    }
}

/// The generated code that submits a call: a bounded helper, the typed
/// call's body, the registry entry's functions, and what the entry adds for
/// a generator (`.__streaming(..)`).
struct Submission {
    helper: TokenStream,
    remote: TokenStream,
    by_name: TokenStream,
    entry: TokenStream,
}

/// The private module holding the remote handle of `f`, and the name of
/// its options type.
pub(super) fn handle_idents(f: &RemoteFn) -> (Ident, Ident) {
    let name = f.name();
    (
        format_ident!("__rustyray_{}", name),
        format_ident!("__rustyray_{}_options", name),
    )
}

/// The parameters of the handle's `remote(..)`: each argument as anything
/// that passes as its type (a value, an `ObjectRef`, a `&ObjectRef`).
pub(super) fn handle_params(f: &RemoteFn) -> Vec<TokenStream> {
    let krate = &f.krate;
    f.args
        .iter()
        .map(|arg| {
            let (name, ty) = (&arg.name, &arg.ty);
            quote!(#name: impl #krate::IntoArg<#ty>)
        })
        .collect()
}

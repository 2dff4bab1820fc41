//! `f::options().num_returns(n)` for a remote function returning a
//! `Vec<T>` (Ray's per-call `num_returns`): the call makes `n` objects,
//! one per element, and returns `Vec<ObjectRef<T>>`.
//!
//! For `fn parts(k: u32) -> Vec<u8>` the expansion adds, next to the rest:
//!
//! ```text
//! mod __rustyray_parts_split {
//!     pub struct __rustyray_parts_split(pub(super) TaskOptions);
//! }
//! impl __rustyray_parts::__rustyray_parts_options {
//!     pub fn num_returns(self, n: usize) -> __rustyray_parts_split::__rustyray_parts_split
//! }
//! impl __rustyray_parts_split::__rustyray_parts_split {
//!     __task_options_methods!();
//!     pub fn remote(self, k: impl IntoArg<u32>) -> Result<Vec<ObjectRef<u8>>>
//! }
//! ```
//!
//! The function's own `remote(..)` is unchanged (one object, the whole
//! vector). A vector of another length than `n` fails the call.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{GenericArgument, Ident, PathArguments, Type};

use super::{RemoteFn, Returns};

/// `T` when `ty` is written `Vec<T>` (any path ending in `Vec`).
fn vec_element(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(element)] => Some(element),
        _ => None,
    }
}

/// The element type of a `Vec`-returning function, which gets
/// `num_returns(n)`.
fn split_element(f: &RemoteFn) -> Option<&Type> {
    let Returns::One(ret) = &f.output.returns else {
        return None;
    };
    vec_element(ret)
}

/// For the registry's entry of a `Vec`-returning function: the function
/// that submits a split call by name (`__rustyray_split_by_name`, used when
/// the options carry `num_returns`) and what the entry adds to name it;
/// nothing for any other function.
pub fn by_name(f: &RemoteFn) -> (TokenStream, TokenStream) {
    let Some(element) = split_element(f) else {
        return (TokenStream::new(), TokenStream::new());
    };
    let krate = &f.krate;
    let tys: Vec<&Type> = f.args.iter().map(|arg| &arg.ty).collect();
    let Body {
        submit_method,
        infer_fut,
        closure,
        count,
        ..
    } = body(f);
    let function = quote! {
        fn __rustyray_split_by_name(
            __options: #krate::TaskOptions,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedRefs> {
            let #count = __options.__returns();
            #krate::__private::Call::<(#(#krate::Arg<#tys>,)*)>::ByName(__options, __codec, __args)
                .#submit_method::<#krate::__private::Split<#element>, _ #infer_fut>(#closure)
                .and_then(#krate::__private::Submitted::by_name)
        }
    };
    (function, quote!(.__split(__rustyray_split_by_name)))
}

/// How a split call runs the function: the submission to use, the closure
/// (over `count`, the call's `n`) and the bounds of its helper.
struct Body {
    submit_method: TokenStream,
    fut_param: TokenStream,
    body_bounds: TokenStream,
    infer_fut: TokenStream,
    closure: TokenStream,
    count: Ident,
}

fn body(f: &RemoteFn) -> Body {
    let RemoteFn { ident, krate, .. } = f;
    let tys: Vec<&Type> = f.args.iter().map(|arg| &arg.ty).collect();
    let bindings: Vec<Ident> = (0..f.args.len())
        .map(|i| Ident::new(&format!("__arg{i}"), Span::mixed_site()))
        .collect();
    let arg_params: Vec<Ident> = (0..f.args.len()).map(|i| format_ident!("A{i}")).collect();
    let count = Ident::new("__n", Span::mixed_site());

    let output = quote! {
        ::core::result::Result<#krate::__private::Split<R0>, #krate::__private::UserError>
    };
    let (submit_method, fut_param, body_bounds, infer_fut) = if f.is_async {
        (
            quote!(submit_async),
            quote!(, Fut),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> Fut
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                Fut: ::core::future::Future<Output = #output> + ::core::marker::Send + 'static,
            },
            quote!(, _),
        )
    } else {
        (
            quote!(submit_sync),
            TokenStream::new(),
            quote! {
                F: ::core::ops::Fn((#(#arg_params,)*)) -> #output
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
            },
            TokenStream::new(),
        )
    };
    let call = if f.is_async {
        quote!(#ident(#(#bindings),*).await)
    } else {
        quote!(#ident(#(#bindings),*))
    };
    let result = match &f.output.error_span {
        Some(span) => {
            let span = Span::call_site().located_at(*span);
            let krate = crate::krate::at(krate, span);
            let to_user_error = quote_spanned!(span=> |__err| #krate::__private::user_error(__err));
            quote! {
                #call
                    .map_err(#to_user_error)
                    .and_then(|__values| #krate::__private::split(#count, __values))
            }
        }
        None => quote!(#krate::__private::split(#count, #call)),
    };
    let closure = if f.is_async {
        quote!(move |(#(#bindings,)*): (#(#tys,)*)| async move { #result })
    } else {
        quote!(move |(#(#bindings,)*): (#(#tys,)*)| #result)
    };
    Body {
        submit_method,
        fut_param,
        body_bounds,
        infer_fut,
        closure,
        count,
    }
}

/// The items that give a `Vec`-returning function `num_returns(n)`;
/// nothing for any other function.
pub fn expand(f: &RemoteFn) -> TokenStream {
    let Some(element) = split_element(f) else {
        return TokenStream::new();
    };
    let RemoteFn { cfgs, krate, .. } = f;
    let name = f.name();
    let (module, options_ident) = super::expand::handle_idents(f);
    let split_ident = format_ident!("__rustyray_{}_split", name);

    let params = super::expand::handle_params(f);
    let names: Vec<&Ident> = f.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = f.args.iter().map(|arg| &arg.ty).collect();
    let arg_params: Vec<Ident> = (0..f.args.len()).map(|i| format_ident!("A{i}")).collect();
    let Body {
        submit_method,
        fut_param,
        body_bounds,
        infer_fut,
        closure,
        count,
    } = body(f);
    let doc = format!(
        "Makes the call return one object per element of the `Vec` `{name}` returns, \
         `n` in all: `.remote(..)` then gives `Vec<ObjectRef<_>>`. A vector of another \
         length fails the call (Ray's `num_returns`)."
    );

    quote! {
        #(#cfgs)*
        #[allow(unreachable_pub)]
        mod #split_ident {
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct #split_ident(pub(super) #krate::TaskOptions);
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl #module::#options_ident {
            #[doc = #doc]
            pub fn num_returns(self, n: usize) -> #split_ident::#split_ident {
                #split_ident::#split_ident(self.0.__num_returns(n))
            }
        }

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #split_ident::#split_ident {
            #krate::__task_options_methods!();

            fn __rustyray_submit<
                #(#arg_params: #krate::Object,)* R0: #krate::Object, F #fut_param
            >(
                __options: #krate::TaskOptions,
                __args: (#(#krate::Arg<#arg_params>,)*),
                __body: F,
            ) -> #krate::Result<::std::vec::Vec<#krate::ObjectRef<R0>>>
            where
                #body_bounds
            {
                #krate::__private::Call::Typed(__options, __args)
                    .#submit_method(__body)
                    .and_then(#krate::__private::Submitted::typed)
            }

            /// Submits the task with these options; returns at once with
            /// one ref per element of the returned vector.
            pub fn remote(
                self,
                #(#params),*
            ) -> #krate::Result<::std::vec::Vec<#krate::ObjectRef<#element>>> {
                let #count = self.0.__returns();
                Self::__rustyray_submit::<#(#tys,)* #element, _ #infer_fut>(
                    self.0,
                    (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
                    #closure,
                )
            }
        }
    }
}

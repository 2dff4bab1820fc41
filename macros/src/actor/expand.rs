//! Code generation for `#[rustyray::actor]`, from a checked [`ActorItem`].
//!
//! For `pub struct Counter { n: i64 }` the expansion is, next to the
//! untouched struct:
//!
//! ```text
//! #[derive(Clone)] pub struct CounterHandle(ActorRef<Counter>);
//! impl Actor for Counter { type Handle = CounterHandle; }
//! impl ActorHandle for CounterHandle { type Actor = Counter; /* actor_ref, from_actor_ref */ }
//! impl CounterHandle { pub fn id(&self) -> ActorId }
//! impl Debug, Serialize, Deserialize for CounterHandle   // through the ActorRef
//! #[doc(hidden)] pub struct __rustyray_Counter_actor_options(ActorOptions);
//! impl __rustyray_Counter_actor_options { __actor_options_methods!(); }  // name, max_restarts, ...
//! impl Counter { pub fn options() -> __rustyray_Counter_actor_options }
//! ```
//!
//! and for its `impl` block (`fn new(start: i64) -> Self`,
//! `fn incr(&mut self, by: i64) -> i64`), next to the block:
//!
//! ```text
//! impl Counter {
//!     fn remote(start: impl IntoArg<i64>) -> Result<CounterHandle> {
//!         Self::options().remote(start)
//!     }
//! }
//! impl __rustyray_Counter_actor_options {
//!     fn remote(self, start: impl IntoArg<i64>) -> Result<CounterHandle> {
//!         fn __rustyray_create<__A0: Object, __F>(..) { ActorRef::<Counter>::__create(..) }
//!         __rustyray_create::<i64, _>(self.into_options(), (into_arg(start),),
//!             |(__arg0,): (i64,)| Ok(<Counter>::new(__arg0)))
//!             .map(<CounterHandle as ActorHandle>::from_actor_ref)
//!     }
//! }
//! impl CounterHandle {
//!     fn incr(&self, by: impl IntoArg<i64>) -> Result<ObjectRef<i64>> {
//!         fn __rustyray_call<__A0: Object, __R0: Object, __F>(..) { ActorRef::__call_mut(..) }
//!         __rustyray_call::<i64, i64, _>(ActorHandle::actor_ref(self), (into_arg(by),),
//!             |__actor: &mut Counter, (__arg0,): (i64,)| Ok(One(<Counter>::incr(__actor, __arg0))))
//!     }
//! }
//! ```
//!
//! Types generated from the struct take its visibility; functions generated
//! from a constructor or method take that function's visibility. Method
//! calls are fully qualified (`<Counter>::incr`), so no trait method or
//! guard method can be picked instead. Calls are named `Counter.incr`, the
//! task name errors and `rustyray::context()` report.
//!
//! As in `#[rustyray::remote]`, each submission goes through a small
//! generic function whose parameters are bounded by `Object` and
//! instantiated with the user's types, each spanned at the user's type: an
//! argument or result that is not an `Object` fails exactly there, and the
//! runtime's own bounds hold generically inside the helper.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Attribute, Ident, Path, Type};

use super::{ActorImpl, ActorItem, ActorStruct, Constructor, Method, Receiver};
use crate::remote::{Argument, Returns};

/// Expands a checked actor item; see the module docs.
pub fn expand(item: &ActorItem) -> TokenStream {
    match item {
        ActorItem::Struct(s) => expand_struct(s),
        ActorItem::Impl(i) => expand_impl(i),
    }
}

/// The handle type, its trait impls, the options builder and `options()`.
fn expand_struct(s: &ActorStruct) -> TokenStream {
    let ActorStruct {
        item,
        cfgs,
        vis,
        ident,
        krate,
    } = s;
    let doc_krate = crate::krate::doc_path(krate);
    let name = s.name();
    let handle = s.handle_ident();
    let options = s.options_ident();
    let items_macro = s.items_macro_ident();
    let serde = quote!(#krate::__private::serde);

    let handle_doc = format!(
        "A handle to a [`{name}`] actor, made by `{name}::remote(..)` (or \
         `{name}::options()…remote(..)`, `{doc_krate}::get_actor::<{name}>(name)`).\n\n\
         Its methods submit calls to the actor and return at once with an `ObjectRef` to the \
         result. It is `Clone` (clones share the actor), `Send + Sync`, and serializable, so \
         it can be passed to tasks and other actors. An unnamed actor stops when its last \
         handle is dropped; `{doc_krate}::kill` stops any actor."
    );
    let options_doc = format!(
        "Options for creating a `{name}` actor: the setters of \
         [`ActorOptions`]({doc_krate}::ActorOptions) (`name`, `namespace`, `get_if_exists`, \
         `max_restarts`, `max_task_retries`, `max_concurrency`, `concurrency_group`, `num_cpus`, \
         `resource`, `on`), then `.remote(..)` with a constructor's arguments. Unset options \
         take the class defaults of `#[rustyray::actor(..)]` on the `impl`."
    );

    quote! {
        #item

        // First, so that a state that is not `Send + Sync + 'static` is
        // reported here (at the struct's name) before its consequences.
        #(#cfgs)*
        impl #krate::Actor for #ident {
            type Handle = #handle;
        }

        #(#cfgs)*
        #[doc = #handle_doc]
        #[derive(::core::clone::Clone)]
        #vis struct #handle(#krate::ActorRef<#ident>);

        #(#cfgs)*
        impl #krate::ActorHandle for #handle {
            type Actor = #ident;

            fn actor_ref(&self) -> &#krate::ActorRef<#ident> {
                &self.0
            }

            fn from_actor_ref(actor: #krate::ActorRef<#ident>) -> Self {
                Self(actor)
            }
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl #handle {
            /// The actor's id, unique in its runtime.
            pub fn id(&self) -> #krate::ActorId {
                self.0.id()
            }
        }

        #(#cfgs)*
        impl ::core::fmt::Debug for #handle {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }

        #(#cfgs)*
        impl #serde::Serialize for #handle {
            fn serialize<S: #serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                #serde::Serialize::serialize(&self.0, serializer)
            }
        }

        #(#cfgs)*
        impl<'de> #serde::Deserialize<'de> for #handle {
            fn deserialize<D: #serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                <#krate::ActorRef<#ident> as #serde::Deserialize<'de>>::deserialize(
                    deserializer,
                )
                .map(Self)
            }
        }

        #(#cfgs)*
        #[doc = #options_doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #options(#krate::ActorOptions);

        #(#cfgs)*
        #[allow(dead_code)]
        impl #options {
            #krate::__actor_options_methods!();
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl #ident {
            #[doc = #options_doc]
            #vis fn options() -> #options {
                #options(<#krate::ActorOptions as ::core::default::Default>::default())
            }
        }

        // What the `impl`'s expansion passes its items through, by path or
        // by name: without this struct's attribute it is missing, and that
        // one error says what to do.
        #(#cfgs)*
        #[doc(hidden)]
        macro_rules! #items_macro {
            ($($items:tt)*) => { $($items)* };
        }
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #items_macro;

        // The `impl` half must be there too (its expansion implements this).
        #(#cfgs)*
        const _: () = {
            fn __rustyray_has_methods<T: #krate::__private::ActorMethods>() {}
            fn __rustyray_check() {
                __rustyray_has_methods::<#ident>();
            }
        };
    }
}

/// The creation functions and the handle's methods.
fn expand_impl(a: &ActorImpl) -> TokenStream {
    let ActorImpl {
        item,
        cfgs,
        actor,
        handle,
        options,
        items_macro,
        krate,
        ..
    } = a;

    let creators = a.constructors.iter().map(|c| {
        let (vis, remote, attrs) = (&c.vis, &c.remote, &c.attrs);
        let params = params(krate, &c.args);
        let names = c.args.iter().map(|arg| &arg.name);
        let doc = format!(
            "Creates a `{name}` actor with its constructor `{ctor}`, run on the actor when it \
             starts; returns its handle at once. Each argument is a value, an `ObjectRef` or a \
             `&ObjectRef`.{fails}",
            name = a.name,
            ctor = c.ident,
            fails = failure_doc(c),
        );
        let docs = docs_then(attrs, &doc);
        quote! {
            #(#attrs)*
            #docs
            #vis fn #remote(#(#params),*) -> #krate::Result<#handle> {
                Self::options().#remote(#(#names),*)
            }
        }
    });

    let builders = a.constructors.iter().map(|c| {
        let (vis, remote) = (&c.vis, &c.remote);
        let attrs = c.attrs.iter().filter(|a| !a.path().is_ident("doc"));
        let params = params(krate, &c.args);
        let doc = format!(
            "Creates the actor with these options and its constructor `{}`; returns its \
             handle at once.{}",
            c.ident,
            failure_doc(c)
        );
        let Generated { helper, typed, .. } = create(a, c);
        let cfgs = cfgs_of(&c.attrs);
        quote! {
            #(#attrs)*
            #[doc = #doc]
            #vis fn #remote(self, #(#params),*) -> #krate::Result<#handle> {
                #typed
            }

            #(#cfgs)*
            #helper
        }
    });

    let methods = a.methods.iter().map(|m| {
        let (vis, ident, attrs) = (&m.vis, &m.ident, &m.attrs);
        let params = params(krate, &m.args);
        let streaming = m.output.stream_item.is_some();
        let refs = match streaming {
            true => crate::remote::expand::stream_type(krate, &m.output.returns),
            false => ref_type(krate, &m.output.returns),
        };
        let doc = format!(
            "Submits `{}.{}` to the actor; returns at once with {}.",
            a.name,
            ident,
            match m.output.returns {
                _ if streaming => "the stream of refs to the items it yields",
                Returns::One(_) => "a ref to its result",
                Returns::Many(_) => "a ref to each element of its result",
            }
        );
        let docs = docs_then(attrs, &doc);
        let Generated { helper, typed, .. } = call(a, m);
        let cfgs = cfgs_of(&m.attrs);
        quote! {
            #(#attrs)*
            #docs
            #vis fn #ident(&self, #(#params),*) -> #krate::Result<#refs> {
                #typed
            }

            #(#cfgs)*
            #helper
        }
    });

    // The registry's entries, under the actor's stable name.
    let entries = a
        .constructors
        .iter()
        .map(|c| (cfgs_of(&c.attrs), create(a, c).by_name))
        .chain(
            a.methods
                .iter()
                .map(|m| (cfgs_of(&m.attrs), call(a, m).by_name)),
        )
        .map(|(cfgs, by_name)| quote!(#(#cfgs)* const _: () = { #by_name };));
    let actor_name = &a.name;
    let class = &a.class;
    let any_async = a.methods.iter().any(|m| m.is_async);

    quote! {
        #item

        #(#cfgs)*
        #items_macro! {
            impl #krate::__private::ActorMethods for #actor {
                const __CLASS: #krate::__private::ActorClass =
                    #krate::__private::ActorClass::__new() #(#class)* .any_async(#any_async);
            }

            #[allow(dead_code, deprecated, clippy::too_many_arguments)]
            impl #actor {
                #(#creators)*
            }

            #[allow(dead_code, deprecated, clippy::too_many_arguments)]
            impl #options {
                #(#builders)*
            }

            #[allow(dead_code, deprecated, clippy::too_many_arguments)]
            impl #handle {
                #(#methods)*
            }

            // The actor by name (see `rustyray::registry`).
            #[allow(deprecated)]
            const _: () = {
                const __RUSTYRAY_ACTOR: &str =
                    ::core::concat!(::core::module_path!(), "::", #actor_name);
                #(#entries)*
            };
        }
    }
}

/// The `#[cfg]` attributes among `attrs`.
fn cfgs_of(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg"))
}

/// `name: impl IntoArg<T>` for each argument.
fn params(krate: &Path, args: &[Argument]) -> Vec<TokenStream> {
    args.iter()
        .map(|arg| {
            let (name, ty) = (&arg.name, &arg.ty);
            quote!(#name: impl #krate::IntoArg<#ty>)
        })
        .collect()
}

/// The user's attributes, then the generated doc line (after a blank line
/// when the user wrote docs of their own).
fn docs_then(attrs: &[Attribute], line: &str) -> TokenStream {
    let has_docs = attrs
        .iter()
        .any(|a| a.path().is_ident("doc") && matches!(a.meta, syn::Meta::NameValue(_)));
    let line = format!(" {line}");
    if has_docs {
        quote!(#[doc = ""] #[doc = #line])
    } else {
        quote!(#[doc = #line])
    }
}

/// The sentence about a fallible constructor.
fn failure_doc(c: &Constructor) -> &'static str {
    if c.error_span.is_some() {
        " If the constructor returns `Err`, the actor dies: its calls fail with \
         `Error::ActorDied` naming the error."
    } else {
        ""
    }
}

/// What a handle method returns: `ObjectRef<T>`, or a tuple of refs.
fn ref_type(krate: &Path, returns: &Returns) -> TokenStream {
    match returns {
        Returns::One(ty) => quote!(#krate::ObjectRef<#ty>),
        Returns::Many(tys) => quote!((#(#krate::ObjectRef<#tys>,)*)),
    }
}

/// The closure's argument bindings (`__arg0`, .., hygienic: they cannot
/// shadow or be shadowed by the user's names) and the helper's type
/// parameters (`__A0`, ..).
fn bindings(args: &[Argument]) -> (Vec<Ident>, Vec<Ident>) {
    let bindings = (0..args.len())
        .map(|i| Ident::new(&format!("__arg{i}"), Span::mixed_site()))
        .collect();
    let params = (0..args.len()).map(|i| format_ident!("__A{i}")).collect();
    (bindings, params)
}

/// `.map_err(..)` of an `Err` into a task failure, located at the user's
/// error type (`user_error` needs `E: Display`; a missing impl is reported
/// there) but resolved in the macro's context, so that lints treat it as
/// generated code.
fn to_user_error(krate: &Path, error_span: Span) -> TokenStream {
    let span = Span::call_site().located_at(error_span);
    let krate = crate::krate::at(krate, span);
    quote_spanned!(span=> |__err| #krate::__private::user_error(__err))
}

/// The body of a builder's `.remote..(..)`: creates the actor from the
/// argument tuple and a closure that runs the constructor.
fn create(a: &ActorImpl, c: &Constructor) -> Generated {
    let (actor, handle, ctor, krate) = (&a.actor, &a.handle, &c.ident, &a.krate);
    let options = &a.options;
    let ctor_name = c.ident.to_string();
    let call_name = format!("{}.{}", a.name, c.ident);
    let names: Vec<&Ident> = c.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = c.args.iter().map(|arg| &arg.ty).collect();
    let (bindings, arg_params) = bindings(&c.args);

    let call = quote!(<#actor>::#ctor(#(#bindings),*));
    let result = match c.error_span {
        Some(span) => {
            let to_user_error = to_user_error(krate, span);
            quote!(#call.map_err(#to_user_error))
        }
        None => quote!(#krate::__private::Ok(#call)),
    };

    let helper_ident = format_ident!("__rustyray_create_{}", c.ident, span = Span::call_site());
    let arg_list = quote!((#(#krate::Arg<#arg_params>,)*));
    let helper = quote! {
        fn #helper_ident<#(#arg_params: #krate::Object,)* __F>(
            __call: #krate::__private::CreateCall<'_, #arg_list>,
            __ctor: __F,
        ) -> #krate::Result<#krate::__private::Created<#actor>>
        where
            __F: ::core::ops::Fn((#(#arg_params,)*)) -> ::core::result::Result<
                    #actor,
                    #krate::__private::UserError,
                > + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            __call.create(#call_name, __ctor)
        }
    };
    let closure = quote!(|(#(#bindings,)*): (#(#tys,)*)| #result);
    let typed = quote! {
        Self::#helper_ident::<#(#tys,)* _>(
            #krate::__private::CreateCall::Typed(
                self.into_options(),
                (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            ),
            #closure,
        )
        .and_then(#krate::__private::Created::typed)
        .map(<#handle as #krate::ActorHandle>::from_actor_ref)
    };
    let by_name = quote! {
        fn #helper_ident(
            __options: #krate::ActorOptions,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::AnyActor> {
            <#options>::#helper_ident::<#(#tys,)* _>(
                #krate::__private::CreateCall::ByName(__options, __RUSTYRAY_ACTOR, __codec, __args),
                #closure,
            )
            .and_then(#krate::__private::Created::by_name)
        }
        #krate::__private::inventory::submit! {
            #krate::__private::Entry::Constructor(#krate::registry::Constructor::__new(
                __RUSTYRAY_ACTOR,
                #ctor_name,
                #helper_ident,
            ))
        }
    };
    Generated {
        helper,
        typed,
        by_name,
    }
}

/// The body of a handle method: submits the argument tuple and a closure
/// that runs the method on the state and converts its result.
fn call(a: &ActorImpl, m: &Method) -> Generated {
    if let Some(item) = &m.output.stream_item {
        return call_streaming(a, m, item);
    }
    let (actor, handle, method, krate) = (&a.actor, &a.handle, &m.ident, &a.krate);
    let method_name = m.ident.to_string();
    let call_name = format!("{}.{}", a.name, m.ident);
    let names: Vec<&Ident> = m.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = m.args.iter().map(|arg| &arg.ty).collect();
    let (bindings, arg_params) = bindings(&m.args);
    let ret_tys: Vec<&Type> = match &m.output.returns {
        Returns::One(ty) => vec![ty],
        Returns::Many(tys) => tys.iter().collect(),
    };
    let ret_params: Vec<Ident> = (0..ret_tys.len())
        .map(|i| format_ident!("__R{i}"))
        .collect();

    // What the helper returns and what the closure produces, over the
    // helper's type parameters.
    let (refs, task_return, wrap) = match &m.output.returns {
        Returns::One(_) => (
            quote!(#krate::ObjectRef<__R0>),
            quote!(#krate::__private::One<__R0>),
            quote!(#krate::__private::One),
        ),
        Returns::Many(_) => (
            quote!((#(#krate::ObjectRef<#ret_params>,)*)),
            quote!(#krate::__private::Many<(#(#ret_params,)*)>),
            quote!(#krate::__private::Many),
        ),
    };
    let output = quote! {
        ::core::result::Result<#task_return, #krate::__private::UserError>
    };

    // How the state is reached: a plain reference for sync methods, a lock
    // guard held across the `.await`s for async ones.
    let state = Ident::new("__actor", Span::mixed_site());
    let (submit, state_ty, state_pat, receiver) = match (m.is_async, m.receiver) {
        (false, Receiver::Ref) => (
            quote!(call_ref),
            quote!(&#actor),
            quote!(#state),
            quote!(#state),
        ),
        (false, Receiver::Mut) => (
            quote!(call_mut),
            quote!(&mut #actor),
            quote!(#state),
            quote!(#state),
        ),
        (true, Receiver::Ref) => (
            quote!(call_async),
            quote!(#krate::__private::ActorRead<#actor>),
            quote!(#state),
            quote!(&*#state),
        ),
        (true, Receiver::Mut) => (
            quote!(call_async),
            quote!(#krate::__private::ActorWrite<#actor>),
            quote!(mut #state),
            quote!(&mut *#state),
        ),
    };
    let (fut_param, infer_fut, bounds) = if m.is_async {
        (
            quote!(, __Fut),
            quote!(, _),
            quote! {
                __F: ::core::ops::Fn(#state_ty, (#(#arg_params,)*)) -> __Fut
                    + ::core::clone::Clone
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
                __Fut: ::core::future::Future<Output = #output> + ::core::marker::Send + 'static,
            },
        )
    } else {
        (
            TokenStream::new(),
            TokenStream::new(),
            quote! {
                __F: ::core::ops::Fn(#state_ty, (#(#arg_params,)*)) -> #output
                    + ::core::marker::Send + ::core::marker::Sync + 'static,
            },
        )
    };

    let mut call = quote!(<#actor>::#method(#receiver, #(#bindings),*));
    if m.is_async {
        call = quote!(#call.await);
    }
    let result = match m.output.error_span {
        Some(span) => {
            let to_user_error = to_user_error(krate, span);
            quote!(#call.map(#wrap).map_err(#to_user_error))
        }
        None => quote!(#krate::__private::Ok(#wrap(#call))),
    };
    let closure = if m.is_async {
        quote!(|#state_pat: #state_ty, (#(#bindings,)*): (#(#tys,)*)| async move { #result })
    } else {
        quote!(|#state_pat: #state_ty, (#(#bindings,)*): (#(#tys,)*)| #result)
    };

    // The user's type tokens keep their spans: a missing `Object` impl is
    // reported at the type as written.
    let turbofish = tys.iter().chain(&ret_tys);

    let info = method_info(krate, m, &call_name);
    let helper_ident = format_ident!("__rustyray_call_{}", m.ident, span = Span::call_site());
    let helper = quote! {
        fn #helper_ident<
            #(#arg_params: #krate::Object,)*
            #(#ret_params: #krate::Object,)*
            __F #fut_param
        >(
            __call: #krate::__private::MethodCall<'_, #actor, (#(#krate::Arg<#arg_params>,)*)>,
            __body: __F,
        ) -> #krate::Result<#krate::__private::Submitted<#refs>>
        where
            #bounds
        {
            __call.#submit(#info, __body)
        }
    };
    let typed = quote! {
        Self::#helper_ident::<#(#turbofish,)* _ #infer_fut>(
            #krate::__private::MethodCall::Typed(
                #krate::ActorHandle::actor_ref(self),
                (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            ),
            #closure,
        )
        .and_then(#krate::__private::Submitted::typed)
    };
    let turbofish = tys.iter().chain(&ret_tys);
    let by_name = quote! {
        fn #helper_ident(
            __actor: &#krate::registry::AnyActor,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedRefs> {
            <#handle>::#helper_ident::<#(#turbofish,)* _ #infer_fut>(
                #krate::__private::MethodCall::ByName(__actor, __codec, __args),
                #closure,
            )
            .and_then(#krate::__private::Submitted::by_name)
        }
        #krate::__private::inventory::submit! {
            #krate::__private::Entry::Method(#krate::registry::Method::__new(
                __RUSTYRAY_ACTOR,
                #method_name,
                #helper_ident,
            ))
        }
    };
    Generated {
        helper,
        typed,
        by_name,
    }
}

/// The body of a streaming method's handle method: submits the call with
/// a closure that runs the method to get its iterator (or stream) and the
/// item conversion. By name, the registry's entry streams the items
/// encoded with the call's codec (`AnyActor::call_streaming`).
fn call_streaming(a: &ActorImpl, m: &Method, item: &Type) -> Generated {
    let (actor, handle, method, krate) = (&a.actor, &a.handle, &m.ident, &a.krate);
    let method_name = m.ident.to_string();
    let call_name = format!("{}.{}", a.name, m.ident);
    let names: Vec<&Ident> = m.args.iter().map(|arg| &arg.name).collect();
    let tys: Vec<&Type> = m.args.iter().map(|arg| &arg.ty).collect();
    let (bindings, arg_params) = bindings(&m.args);
    let ret = match &m.output.returns {
        Returns::One(ty) => ty.clone(),
        Returns::Many(_) => syn::parse_quote!(()),
    };
    let state = Ident::new("__actor", Span::mixed_site());
    let user_error = quote!(#krate::__private::UserError);
    let arg_tuple = quote!((#(#arg_params,)*));
    let (submit, params, bounds, infer, closure) = match (m.is_async, m.receiver) {
        (false, receiver) => {
            let (submit, state_ty) = match receiver {
                Receiver::Ref => (quote!(call_streaming_ref), quote!(&#actor)),
                Receiver::Mut => (quote!(call_streaming_mut), quote!(&mut #actor)),
            };
            (
                submit,
                quote!(I, X, C),
                quote! {
                    __F: ::core::ops::Fn(#state_ty, #arg_tuple) -> I
                        + ::core::marker::Send + ::core::marker::Sync + 'static,
                    I: ::core::iter::IntoIterator<Item = X>,
                },
                quote!(_, _, _),
                quote! {
                    |#state: #state_ty, (#(#bindings,)*): (#(#tys,)*)|
                        <#actor>::#method(#state, #(#bindings),*)
                },
            )
        }
        (true, receiver) => {
            let (state_ty, state_pat, reborrow) = match receiver {
                Receiver::Ref => (
                    quote!(#krate::__private::ActorRead<#actor>),
                    quote!(#state),
                    quote!(&*#state),
                ),
                Receiver::Mut => (
                    quote!(#krate::__private::ActorWrite<#actor>),
                    quote!(mut #state),
                    quote!(&mut *#state),
                ),
            };
            (
                quote!(call_streaming_async),
                quote!(G, Fut, S, X, C),
                quote! {
                    G: #krate::actor::Access<#actor>,
                    __F: ::core::ops::Fn(G, #arg_tuple) -> Fut + ::core::clone::Clone
                        + ::core::marker::Send + ::core::marker::Sync + 'static,
                    Fut: ::core::future::Future<Output = S> + ::core::marker::Send + 'static,
                    S: #krate::__private::Stream<Item = X> + ::core::marker::Send + 'static,
                    X: ::core::marker::Send + 'static,
                },
                quote!(#state_ty, _, _, _, _),
                quote! {
                    |#state_pat: #state_ty, (#(#bindings,)*): (#(#tys,)*)| async move {
                        <#actor>::#method(#reborrow, #(#bindings),*).await
                    }
                },
            )
        }
    };
    let convert = crate::remote::expand::stream_convert(krate, item, m.output.error_span);
    let info = method_info(krate, m, &call_name);
    let helper_ident = format_ident!("__rustyray_call_{}", m.ident, span = Span::call_site());
    let helper = quote! {
        fn #helper_ident<
            #(#arg_params: #krate::Object,)* __R0: #krate::Object, __F, #params
        >(
            __call: #krate::__private::MethodCall<'_, #actor, (#(#krate::Arg<#arg_params>,)*)>,
            __body: __F,
            __convert: C,
        ) -> #krate::Result<#krate::ObjectRefStream<__R0>>
        where
            #bounds
            C: ::core::ops::Fn(X) -> ::core::result::Result<__R0, #user_error>
                + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            __call.#submit(#info, __body, __convert)
        }
    };
    let typed = quote! {
        Self::#helper_ident::<#(#tys,)* #ret, _, #infer>(
            #krate::__private::MethodCall::Typed(
                #krate::ActorHandle::actor_ref(self),
                (#(#krate::IntoArg::<#tys>::into_arg(#names),)*),
            ),
            #closure,
            #convert,
        )
    };
    let stream_ident = format_ident!("__rustyray_stream_{}", m.ident, span = Span::call_site());
    let by_name = quote! {
        fn #helper_ident(
            _: &#krate::registry::AnyActor,
            _: #krate::Codec,
            _: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedRefs> {
            #krate::__private::Err(#krate::__private::streaming_by_name(#call_name))
        }
        fn #stream_ident(
            __actor: &#krate::registry::AnyActor,
            __codec: #krate::Codec,
            __args: &[u8],
        ) -> #krate::Result<#krate::registry::EncodedStream> {
            let __convert = #convert;
            <#handle>::#helper_ident::<#(#tys,)* ::std::vec::Vec<u8>, _, #infer>(
                #krate::__private::MethodCall::ByName(__actor, __codec, __args),
                #closure,
                move |__x| __convert(__x)
                    .and_then(|__v| #krate::__private::encode_item(__codec, &__v)),
            )
        }
        #krate::__private::inventory::submit! {
            #krate::__private::Entry::Method(#krate::registry::Method::__new(
                __RUSTYRAY_ACTOR,
                #method_name,
                #helper_ident,
            ).__streaming(#stream_ident))
        }
    };
    Generated {
        helper,
        typed,
        by_name,
    }
}

/// The call's name, or its `MethodInfo` when `#[method(..)]` says more
/// (built in a constant).
fn method_info(krate: &Path, m: &Method, call_name: &str) -> TokenStream {
    if m.concurrency_group.is_none()
        && m.max_retries.is_none()
        && m.retry_exceptions.is_none()
        && m.generator_backpressure.is_none()
    {
        return quote!(#call_name);
    }
    let group = m.concurrency_group.iter();
    let max_retries = m.max_retries.iter();
    let retry_exceptions = m.retry_exceptions.iter();
    let backpressure = m.generator_backpressure.iter();
    quote! {{
        const __RUSTYRAY_METHOD: #krate::__private::MethodInfo =
            #krate::__private::MethodInfo::__new(#call_name)
                #(.group(#group))*
                #(.max_retries(#max_retries))*
                #(.retry_exceptions(#retry_exceptions))*
                #(.generator_backpressure(#backpressure))*;
        __RUSTYRAY_METHOD
    }}
}

/// What one constructor or method generates: a helper with the user's
/// types as bounded parameters (an associated function of the options
/// builder or the handle), the typed call's body, and the registry's entry.
/// Both calls go through the one helper, so a type that is not an `Object`
/// fails with the same error at the same span from both, which rustc
/// reports once.
struct Generated {
    helper: TokenStream,
    typed: TokenStream,
    by_name: TokenStream,
}

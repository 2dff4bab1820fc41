//! The type rules shared by remote functions and actor methods.
//!
//! A remote call runs later, on another thread, with arguments that may
//! come from the object store, and its result is stored as an object. So
//! every argument and result type must be owned and `'static` (no
//! references, no lifetimes other than `'static`) and concrete (no
//! `impl Trait`). [`check_owned`] reports each offender at its span, in the
//! words of the macro that checks it (its [`Wording`]).
//!
//! A `Result` is recognised syntactically ([`ok_type`], [`err_type`]): the
//! last path segment is what counts.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{GenericArgument, Ident, Pat, PatType, PathArguments, Type, TypeParamBound};

use crate::ctxt::Ctxt;

/// Where a type appears in a signature, and how the macro checking it
/// words the errors of [`check_owned`] there.
pub trait Wording: Copy {
    /// The error for a lifetime other than `'static`.
    const LIFETIME_MSG: &'static str;

    /// The error for a reference; `owned` is the owned type to suggest.
    fn reference_msg(self, owned: &str) -> String;

    /// The error for `impl Trait`.
    fn impl_trait_msg(self) -> &'static str;

    /// The error for a path starting with `Self`, where `Self` has no
    /// meaning; `None` checks such a path like any other.
    fn self_type_msg(self) -> Option<&'static str> {
        None
    }
}

/// Reports references, non-`'static` lifetimes and `impl Trait` anywhere in
/// `ty` (each offender at its own span).
pub fn check_owned<W: Wording>(cx: &Ctxt, ty: &Type, position: W) {
    match ty {
        Type::Reference(reference) => {
            let owned = owned_suggestion(&reference.elem);
            cx.error_spanned_by(reference, position.reference_msg(&owned));
        }
        Type::ImplTrait(impl_trait) => cx.error_spanned_by(impl_trait, position.impl_trait_msg()),
        Type::Paren(inner) => check_owned(cx, &inner.elem, position),
        Type::Group(inner) => check_owned(cx, &inner.elem, position),
        Type::Array(array) => check_owned(cx, &array.elem, position),
        Type::Slice(slice) => check_owned(cx, &slice.elem, position),
        Type::Ptr(ptr) => check_owned(cx, &ptr.elem, position),
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                check_owned(cx, elem, position);
            }
        }
        Type::Path(path) => match position.self_type_msg() {
            Some(msg) if path.qself.is_none() && path.path.segments[0].ident == "Self" => {
                cx.error_spanned_by(path, msg);
            }
            _ => {
                if let Some(qself) = &path.qself {
                    check_owned(cx, &qself.ty, position);
                }
                for segment in &path.path.segments {
                    if let PathArguments::AngleBracketed(args) = &segment.arguments {
                        for arg in &args.args {
                            match arg {
                                GenericArgument::Type(ty) => check_owned(cx, ty, position),
                                GenericArgument::Lifetime(lt) if lt.ident != "static" => {
                                    cx.error_spanned_by(lt, W::LIFETIME_MSG);
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        },
        Type::TraitObject(object) => {
            for bound in &object.bounds {
                if let TypeParamBound::Lifetime(lt) = bound {
                    if lt.ident != "static" {
                        cx.error_spanned_by(lt, W::LIFETIME_MSG);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The `T` of `Result<T, ..>` (`Some(Err)` for a bare `Result`), or `None`
/// when `ty` is not a `Result`.
pub fn ok_type(ty: &Type) -> Option<Result<&Type, ()>> {
    let Type::Path(path) = strip_group(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Some(Err(()));
    };
    match args.args.first() {
        Some(GenericArgument::Type(ok)) => Some(Ok(ok)),
        _ => Some(Err(())),
    }
}

/// The `E` of `Result<T, E>`, when written out.
pub fn err_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_group(ty) else {
        return None;
    };
    let PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    match args.args.iter().nth(1) {
        Some(GenericArgument::Type(err)) => Some(err),
        _ => None,
    }
}

/// `ty` without parentheses and invisible groups.
pub fn strip_group(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => strip_group(&inner.elem),
        Type::Group(inner) => strip_group(&inner.elem),
        other => other,
    }
}

/// The owned type to suggest instead of `&elem`.
fn owned_suggestion(elem: &Type) -> String {
    match strip_group(elem) {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
            "String".to_owned()
        }
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("Path") => {
            "PathBuf".to_owned()
        }
        Type::Slice(slice) => format!("Vec<{}>", to_string(&slice.elem)),
        other => to_string(other),
    }
}

/// Tokens as the user would write them (without the spaces of
/// `TokenStream::to_string`, for the common cases).
pub fn to_string<T: ToTokens>(tokens: &T) -> String {
    let text = tokens.to_token_stream().to_string();
    text.replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace("& ", "&")
        .replace("( ", "(")
        .replace(" )", ")")
}

/// The names generated code gives the arguments: plain identifiers keep
/// theirs (nicer in docs and errors); any other pattern, and an identifier
/// equal to `avoid`, gets `argN`, made unique against the plain names.
pub fn argument_names(typed: &[&PatType], avoid: Option<&Ident>) -> Vec<Ident> {
    let plain = |pat: &Pat| match pat {
        Pat::Ident(p) if p.subpat.is_none() && Some(&p.ident) != avoid => Some(p.ident.clone()),
        _ => None,
    };
    let taken: Vec<String> = typed
        .iter()
        .filter_map(|arg| plain(&arg.pat))
        .map(|ident| ident.unraw().to_string())
        .collect();
    typed
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            plain(&arg.pat).unwrap_or_else(|| {
                let mut name = format!("arg{i}");
                while taken.contains(&name) {
                    name.push('_');
                }
                Ident::new(&name, arg.pat.span())
            })
        })
        .collect()
}

/// The item type `X` of a streaming generator's result, `impl Iterator<Item
/// = X> + ..` (`trait_name` = `"Iterator"`) or `impl Stream<Item = X> + ..`
/// (`"Stream"`, any path ending so, such as `futures::Stream`).
pub fn stream_item<'a>(ty: &'a Type, trait_name: &str) -> Option<&'a Type> {
    let Type::ImplTrait(impl_trait) = strip_group(ty) else {
        return None;
    };
    impl_trait.bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        if last.ident != trait_name {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Item" => Some(&assoc.ty),
            _ => None,
        })
    })
}

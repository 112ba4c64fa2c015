//! `#[derive(Actor)]`: an `impl Actor` with default hooks.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{DeriveInput, parse_quote};

use crate::attr::{ActorOptions, Errors};

/// Expands `#[derive(Actor)]` on `input`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let options = ActorOptions::from_derive_attrs(&input.attrs, &mut errors);
    let error = options.error.map_or_else(|| quote!(::core::convert::Infallible), |e| e.to_token_stream());

    // The actor moves to its own task: every type parameter must allow that.
    let params: Vec<_> = input.generics.type_params().map(|p| p.ident.clone()).collect();
    if !params.is_empty() {
        let where_clause = input.generics.make_where_clause();
        for param in params {
            where_clause.predicates.push(parse_quote!(#param: ::core::marker::Send + 'static));
        }
    }
    let name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors
        impl #impl_generics ::actor_core::Actor for #name #type_generics #where_clause {
            type Error = #error;
        }
    }
}

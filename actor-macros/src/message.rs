//! `#[message]` on its own.
//!
//! Inside an `#[actor]` block the marker is consumed by `#[actor]`, which
//! expands first; reaching this macro means it was used anywhere else.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Expands a `#[message]` that is not inside an `#[actor]` impl block: the
/// item, unchanged, and one error on the attribute.
pub(crate) fn expand(_args: TokenStream, input: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[message]` only works on a method inside an `#[actor]` impl block: \
         add `#[actor]` to the impl block (`#[actor] impl MyActor { .. }`)",
    )
    .to_compile_error();
    quote!(#error #input)
}

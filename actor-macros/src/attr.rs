//! Option parsing shared by the macros, and a small error accumulator.
//!
//! Every option parser reports problems into [`Errors`] and still returns
//! usable (default) options, so the caller can emit its normal output and the
//! user sees the one error about the option, not a cascade of follow-ups.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, Ident, LitStr, Path, Token, Type, Visibility};

/// Collects errors to emit next to the (fallback) expansion.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records `error`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records a new error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records a new error covering `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Moves the errors of `other` into `self`.
    pub(crate) fn append(&mut self, other: Errors) {
        if let Some(e) = other.0 {
            self.push(e);
        }
    }
}

impl ToTokens for Errors {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if let Some(e) = &self.0 {
            tokens.extend(e.to_compile_error());
        }
    }
}

/// Where `#[actor(..)]` options were written: they differ slightly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorAttrSite {
    /// `#[actor(..)] impl MyActor { .. }`.
    ImplBlock,
    /// `#[derive(Actor)] #[actor(..)] struct MyActor;`.
    Derive,
}

/// Options of `#[actor(..)]`.
#[derive(Default)]
pub(crate) struct ActorOptions {
    /// `error = Type`: the actor's `Actor::Error`.
    pub(crate) error: Option<Type>,
    /// `no_actor_impl`: the user writes `impl Actor` themselves.
    pub(crate) no_actor_impl: Option<Span>,
    /// `remote`: every message of the block is remote.
    pub(crate) remote: Option<Span>,
    /// `client = "Name"`: the name of the typed client trait.
    pub(crate) client: Option<Ident>,
    /// `vis = pub`: the visibility of the client trait and of every message
    /// type (and its fields) of the block.
    pub(crate) vis: Option<Visibility>,
}

impl ActorOptions {
    /// Parses the arguments of the `#[actor(..)]` attribute macro.
    pub(crate) fn from_args(args: TokenStream, errors: &mut Errors) -> Self {
        let mut options = ActorOptions::default();
        let parser = syn::meta::parser(|meta| options.parse_one(meta, ActorAttrSite::ImplBlock));
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        options.check(errors);
        options
    }

    /// Parses the `#[actor(..)]` helper attributes of `#[derive(Actor)]`.
    pub(crate) fn from_derive_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut options = ActorOptions::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("actor")) {
            if let Err(e) = attr.parse_nested_meta(|meta| options.parse_one(meta, ActorAttrSite::Derive)) {
                errors.push(e);
            }
        }
        options
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>, site: ActorAttrSite) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("error") {
            no_duplicate(&meta, self.error.is_some())?;
            self.error = Some(meta.value()?.parse()?);
        } else if path.is_ident("no_actor_impl") && site == ActorAttrSite::ImplBlock {
            no_duplicate(&meta, self.no_actor_impl.is_some())?;
            self.no_actor_impl = Some(span_of(path));
        } else if path.is_ident("remote") && site == ActorAttrSite::ImplBlock {
            no_duplicate(&meta, self.remote.is_some())?;
            self.remote = Some(span_of(path));
        } else if path.is_ident("client") && site == ActorAttrSite::ImplBlock {
            no_duplicate(&meta, self.client.is_some())?;
            self.client = Some(ident_value(&meta)?);
        } else if path.is_ident("vis") && site == ActorAttrSite::ImplBlock {
            no_duplicate(&meta, self.vis.is_some())?;
            self.vis = Some(vis_value(&meta)?);
        } else {
            let expected = match site {
                ActorAttrSite::ImplBlock => {
                    "`error = Type`, `no_actor_impl`, `remote`, `client = \"Name\"` or `vis = pub`"
                }
                ActorAttrSite::Derive => "`error = Type`",
            };
            return Err(meta.error(format_args!(
                "unknown `#[actor]` option `{}`; expected {expected}",
                path.to_token_stream().to_string().replace(' ', "")
            )));
        }
        Ok(())
    }

    fn check(&mut self, errors: &mut Errors) {
        if let (Some(error), Some(_)) = (&self.error, self.no_actor_impl) {
            errors.spanned(
                error,
                "`error = ..` sets the error of the generated `impl Actor`, which `no_actor_impl` turns off; \
                 write `type Error` in your own `impl Actor` instead",
            );
            self.error = None;
        }
    }
}

/// Options of one `#[message(..)]` inside an `#[actor]` block.
#[derive(Default)]
pub(crate) struct MessageOptions {
    /// `name = "Bump"`: the message struct's name.
    pub(crate) name: Option<Ident>,
    /// `remote`: serde derives and `RemoteMessage`.
    pub(crate) remote: Option<Span>,
    /// `wire_name = "..."`: `RemoteMessage::WIRE_NAME`.
    pub(crate) wire_name: Option<LitStr>,
    /// `derive(Debug, Clone, ..)`: extra derives on the message struct.
    pub(crate) derives: Vec<Path>,
    /// `vis = pub`: the visibility of the message struct and its fields.
    pub(crate) vis: Option<Visibility>,
}

impl MessageOptions {
    /// Parses one `#[message]` / `#[message(..)]` attribute.
    pub(crate) fn from_attr(attr: &Attribute, errors: &mut Errors) -> Self {
        let mut options = MessageOptions::default();
        let result = match &attr.meta {
            syn::Meta::Path(_) => Ok(()),
            syn::Meta::List(_) => attr.parse_nested_meta(|meta| options.parse_one(meta)),
            syn::Meta::NameValue(nv) => Err(syn::Error::new_spanned(
                &nv.value,
                "expected `#[message]` or `#[message(option, ..)]`, not `#[message = ..]`",
            )),
        };
        if let Err(e) = result {
            errors.push(e);
        }
        options
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("name") {
            no_duplicate(&meta, self.name.is_some())?;
            self.name = Some(ident_value(&meta)?);
        } else if path.is_ident("remote") {
            no_duplicate(&meta, self.remote.is_some())?;
            self.remote = Some(span_of(path));
        } else if path.is_ident("wire_name") {
            no_duplicate(&meta, self.wire_name.is_some())?;
            let lit: LitStr = meta.value()?.parse()?;
            if lit.value().is_empty() {
                return Err(syn::Error::new(lit.span(), "a wire name cannot be empty"));
            }
            self.wire_name = Some(lit);
        } else if path.is_ident("vis") {
            no_duplicate(&meta, self.vis.is_some())?;
            self.vis = Some(vis_value(&meta)?);
        } else if path.is_ident("derive") {
            let list;
            syn::parenthesized!(list in meta.input);
            let paths = list.parse_terminated(Path::parse_mod_style, Token![,])?;
            self.derives.extend(paths);
        } else {
            return Err(meta.error(format_args!(
                "unknown `#[message]` option `{}`; expected `name = \"Name\"`, `remote`, `wire_name = \"..\"`, \
                 `vis = pub` or `derive(..)`",
                path.to_token_stream().to_string().replace(' ', "")
            )));
        }
        Ok(())
    }
}

fn no_duplicate(meta: &ParseNestedMeta<'_>, seen: bool) -> syn::Result<()> {
    if seen { Err(meta.error(format_args!("option `{}` is given twice", meta.path.to_token_stream()))) } else { Ok(()) }
}

/// `key = "Ident"`, checked to be a valid identifier.
fn ident_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Ident> {
    let lit: LitStr = meta.value()?.parse()?;
    match syn::parse_str::<Ident>(&lit.value()) {
        Ok(ident) => Ok(Ident::new(&ident.to_string(), lit.span())),
        Err(_) => Err(syn::Error::new(lit.span(), format_args!("`{}` is not a valid type name", lit.value()))),
    }
}

/// `vis = pub`, `vis = pub(crate)`, `vis = pub(in path)`, `vis = pub(self)`.
fn vis_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Visibility> {
    let value = meta.value()?;
    let span = value.span();
    match value.parse::<Visibility>()? {
        Visibility::Inherited => Err(syn::Error::new(
            span,
            "expected a visibility after `vis =`: `pub`, `pub(crate)`, `pub(super)`, `pub(in path)` or `pub(self)`",
        )),
        vis => Ok(vis),
    }
}

fn span_of(path: &Path) -> Span {
    path.segments.last().map_or_else(Span::call_site, |s| s.ident.span())
}

/// Whether `attr` is `#[message]`, `#[message(..)]` or a path ending in
/// `message` (`#[actor_core::message]`).
pub(crate) fn is_message_attr(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "message")
}

/// The `#[doc]` attributes of `attrs`.
pub(crate) fn doc_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect()
}

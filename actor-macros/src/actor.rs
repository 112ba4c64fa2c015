//! `#[actor]` on an inherent impl block: one message type, one `Handler` impl
//! and two typed-client methods per `#[message]` method.
//!
//! The expansion keeps the impl block as written (minus the `#[message]`
//! markers), so the methods stay callable directly. A method that cannot be a
//! message gets one error and no generated items; the rest of the block still
//! expands, so the user does not see follow-up errors about missing impls.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, Item, ItemImpl, Pat, Path, ReceiverKind, ReturnType, Type,
    Visibility, parse_quote,
};

use crate::attr::{ActorOptions, Errors, MessageOptions, doc_attrs, is_message_attr};

/// Inherent methods of `ActorRef`: a client method with one of these names
/// would be silently shadowed by them.
const ACTOR_REF_METHODS: &[&str] = &[
    "id",
    "name",
    "is_alive",
    "mailbox_len",
    "tell",
    "try_tell",
    "blocking_tell",
    "ask",
    "blocking_ask",
    "ask_with",
    "stop",
    "kill",
    "wait_for_stop",
    "downgrade",
    "recipient",
];

/// Expands `#[actor(args)] input`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = ActorOptions::from_args(args, &mut errors);

    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return quote!(#errors #input);
        }
    };
    let mut block = match item {
        Item::Impl(block) => block,
        other => {
            errors.spanned(
                item_head(&other),
                "`#[actor]` goes on an impl block of the actor type: `#[actor] impl MyActor { .. }`; \
                 for a type definition, use `#[derive(Actor)]` (with any `#[actor(..)]` options after it)",
            );
            return quote!(#errors #other);
        }
    };

    // Always take the markers out, so they never expand on their own (which
    // would report "`#[message]` outside `#[actor]`" on top of the real error).
    let marked = take_message_attrs(&mut block, &mut errors);

    let Some(actor) = ActorInfo::new(&block, &options, &mut errors) else {
        return quote!(#errors #block);
    };

    let mut specs = Vec::new();
    for (index, attr) in marked {
        let ImplItem::Fn(method) = &block.items[index] else { continue };
        let mut method_errors = Errors::default();
        let message_options = MessageOptions::from_attr(&attr, &mut method_errors);
        let spec = MessageSpec::new(method, message_options, &actor, &mut method_errors);
        if method_errors.is_empty() {
            specs.push(spec);
        }
        errors.append(method_errors);
    }
    check_unique(&mut specs, &mut errors);

    let messages = specs.iter().map(|spec| spec.emit(&actor));
    let client = emit_client(&specs, &actor, &block);
    let actor_impl = emit_actor_impl(&options, &actor);
    let remote_impl = emit_remote_actor(&specs, &actor);
    quote! {
        #errors
        #block
        #actor_impl
        #(#messages)*
        #remote_impl
        #client
    }
}

/// `impl RemoteActor` listing the remote messages, if there are any.
fn emit_remote_actor(specs: &[MessageSpec], actor: &ActorInfo) -> TokenStream {
    let remote: Vec<_> = specs.iter().filter(|s| s.wire_name.is_some()).map(|s| &s.name).collect();
    if remote.is_empty() {
        return TokenStream::new();
    }
    let self_ty = &actor.self_ty;
    quote! {
        ::actor_core::__private::remote_actor! { [#self_ty] #(#remote)* }
    }
}

/// The first tokens of an item, for an error that should not underline a
/// whole multi-line definition.
fn item_head(item: &Item) -> TokenStream {
    match item {
        Item::Struct(i) => head(&i.struct_token, &i.ident),
        Item::Enum(i) => head(&i.enum_token, &i.ident),
        Item::Union(i) => head(&i.union_token, &i.ident),
        Item::Fn(i) => head(&i.sig.fn_token, &i.sig.ident),
        Item::Trait(i) => head(&i.trait_token, &i.ident),
        Item::Mod(i) => head(&i.mod_token, &i.ident),
        other => other.to_token_stream(),
    }
}

fn head(keyword: &impl ToTokens, ident: &Ident) -> TokenStream {
    quote!(#keyword #ident)
}

/// Removes every `#[message]` attribute from the block; returns the index of
/// each marked method with its (first) attribute.
fn take_message_attrs(block: &mut ItemImpl, errors: &mut Errors) -> Vec<(usize, Attribute)> {
    let mut marked = Vec::new();
    for (index, item) in block.items.iter_mut().enumerate() {
        let attrs = match item {
            ImplItem::Fn(f) => &mut f.attrs,
            ImplItem::Const(c) => &mut c.attrs,
            ImplItem::Type(t) => &mut t.attrs,
            ImplItem::Macro(m) => &mut m.attrs,
            _ => continue,
        };
        let mut found: Vec<Attribute> = Vec::new();
        attrs.retain(|a| {
            let is_marker = is_message_attr(a);
            if is_marker {
                found.push(a.clone());
            }
            !is_marker
        });
        let Some(first) = found.first().cloned() else { continue };
        if let Some(again) = found.get(1) {
            errors.spanned(again, "`#[message]` is given twice on this method; merge the options into one");
        }
        if matches!(item, ImplItem::Fn(_)) {
            marked.push((index, first));
        } else {
            errors.spanned(&first, "`#[message]` goes on a method (`fn`) of the `#[actor]` block");
        }
    }
    marked
}

/// What the whole block needs to know about the actor.
struct ActorInfo {
    /// The impl's self type, as written.
    self_ty: Type,
    /// Its last path segment, for names (`CounterClient`, wire names).
    ident: Ident,
    /// `#[actor(remote)]`.
    remote: Option<Span>,
    /// The client trait's name.
    client: Ident,
    /// `#[actor(vis = ..)]`.
    vis: Option<Visibility>,
}

impl ActorInfo {
    fn new(block: &ItemImpl, options: &ActorOptions, errors: &mut Errors) -> Option<Self> {
        if let Some((path, for_token)) = &block.trait_ {
            errors.spanned(
                quote!(#path #for_token),
                "`#[actor]` goes on an inherent impl block (`impl MyActor { .. }`), not on a trait impl",
            );
            return None;
        }
        if !block.generics.params.is_empty() || block.generics.where_clause.is_some() {
            errors.spanned(
                &block.generics,
                "`#[actor]` does not support generic impl blocks: the generated message types would need the \
                 same parameters; write the messages and `Handler` impls by hand for a generic actor",
            );
            return None;
        }
        if let Some(unsafety) = &block.unsafety {
            errors.spanned(unsafety, "`#[actor]` goes on a plain (not `unsafe`) impl block");
            return None;
        }
        let ident = match &*block.self_ty {
            Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
            _ => None,
        };
        let Some(ident) = ident else {
            errors.spanned(&block.self_ty, "`#[actor]` needs the actor to be a named type (a struct or an enum)");
            return None;
        };
        let client = options.client.clone().unwrap_or_else(|| format_ident!("{}Client", ident.unraw()));
        Some(ActorInfo {
            self_ty: (*block.self_ty).clone(),
            ident,
            remote: options.remote,
            client,
            vis: options.vis.clone(),
        })
    }
}

/// One argument of a message method, which becomes a field.
struct Field {
    ident: Ident,
    ty: Type,
}

/// Everything generated for one `#[message]` method.
struct MessageSpec {
    method: Ident,
    vis: Visibility,
    docs: Vec<Attribute>,
    /// The message struct's name.
    name: Ident,
    fields: Vec<Field>,
    takes_ctx: bool,
    is_async: bool,
    reply: Type,
    /// Where the reply type was written, for errors about it.
    reply_span: Span,
    /// `Some(wire name)` for a remote message.
    wire_name: Option<(String, Span)>,
    derives: Vec<Path>,
}

impl MessageSpec {
    /// Reads and checks one method; errors go to `errors` (the spec is then
    /// not used).
    fn new(method: &ImplItemFn, options: MessageOptions, actor: &ActorInfo, errors: &mut Errors) -> Self {
        let sig = &method.sig;
        let mut replace_self = ReplaceSelf(&actor.self_ty);

        if !sig.generics.params.is_empty() {
            errors.spanned(
                &sig.generics,
                "a `#[message]` method cannot be generic: its arguments become the fields of a message struct, \
                 which need concrete types",
            );
        } else if let Some(where_clause) = &sig.generics.where_clause {
            errors.spanned(where_clause, "a `#[message]` method cannot have a `where` clause");
        }
        if let syn::Safety::Unsafe(unsafety) = &sig.safety {
            errors.spanned(unsafety, "a `#[message]` method cannot be `unsafe`");
        }
        if let Some(abi) = &sig.abi {
            errors.spanned(abi, "a `#[message]` method cannot have an ABI");
        }

        let mut inputs = sig.inputs.iter().peekable();
        match inputs.peek() {
            Some(FnArg::Receiver(receiver)) => {
                match &receiver.kind {
                    ReceiverKind::Reference(..) => {}
                    ReceiverKind::Value => errors.spanned(
                        {
                            let (mutability, self_token) = (&receiver.mutability, &receiver.self_token);
                            quote!(#mutability #self_token)
                        },
                        "a `#[message]` method cannot take `self` by value: the actor lives on after the \
                         message; take `&self` or `&mut self`",
                    ),
                    _ => errors.spanned(receiver, "a `#[message]` method takes `&self` or `&mut self`"),
                }
                inputs.next();
            }
            _ => errors.spanned(
                &sig.ident,
                format_args!(
                    "`{}` has no `self` parameter, but a `#[message]` method is called on the actor: \
                     take `&self` or `&mut self` (or drop `#[message]` from this associated function)",
                    sig.ident
                ),
            ),
        }

        let mut fields = Vec::new();
        let mut takes_ctx = false;
        let typed: Vec<_> = inputs.collect();
        for (position, arg) in typed.iter().enumerate() {
            let FnArg::Typed(arg) = arg else { continue };
            match context_param(&arg.ty) {
                ContextParam::No => {}
                ContextParam::ByReference => {
                    if position + 1 == typed.len() {
                        takes_ctx = true;
                    } else {
                        errors.spanned(arg, "the `Context` parameter of a `#[message]` method must be the last one");
                    }
                    continue;
                }
                ContextParam::ByValue => {
                    errors.spanned(&arg.ty, "take the context by reference: `ctx: &mut Context<Self>`");
                    continue;
                }
            }
            let ident = match &*arg.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                other => {
                    errors.spanned(
                        other,
                        "a `#[message]` method's arguments become the message's fields, so each needs a plain \
                         name (`name: Type`), not a pattern",
                    );
                    continue;
                }
            };
            OwnedCheck { errors, place: Place::Argument }.visit_type(&arg.ty);
            let mut ty = (*arg.ty).clone();
            replace_self.visit_type_mut(&mut ty);
            fields.push(Field { ident, ty });
        }

        let reply_span = match &sig.output {
            ReturnType::Default => sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        };
        let reply = match &sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => {
                OwnedCheck { errors, place: Place::Reply }.visit_type(ty);
                let mut ty = (**ty).clone();
                replace_self.visit_type_mut(&mut ty);
                ty
            }
        };

        let name = options.name.unwrap_or_else(|| {
            let camel = upper_camel(&sig.ident.unraw().to_string());
            if camel.is_empty() {
                errors.spanned(&sig.ident, "cannot derive a message name from this method name; add `name = \"..\"`");
                return sig.ident.clone();
            }
            Ident::new(&camel, sig.ident.span())
        });

        let remote = options.remote.or(actor.remote);
        let wire_name = match (remote, options.wire_name) {
            (Some(_), Some(lit)) => Some((lit.value(), lit.span())),
            (Some(span), None) => Some((format!("{}::{}", actor.ident.unraw(), name.unraw()), span)),
            (None, Some(lit)) => {
                errors.spanned(&lit, "`wire_name` is for remote messages: add `remote` to this `#[message]`");
                None
            }
            (None, None) => None,
        };

        // An explicit `vis` wins: the message's own, then the block's; the
        // method's visibility otherwise.
        let vis = options.vis.or_else(|| actor.vis.clone()).unwrap_or_else(|| method.vis.clone());
        MessageSpec {
            method: sig.ident.clone(),
            vis,
            docs: doc_attrs(&method.attrs),
            name,
            fields,
            takes_ctx,
            is_async: sig.asyncness.is_some(),
            reply,
            reply_span,
            wire_name,
            derives: options.derives,
        }
    }

    fn emit(&self, actor: &ActorInfo) -> TokenStream {
        let MessageSpec { method, vis, name, reply, .. } = self;
        let actor_ty = &actor.self_ty;
        let field_idents: Vec<_> = self.fields.iter().map(|f| &f.ident).collect();
        let field_types = self.fields.iter().map(|f| &f.ty);
        let field_docs = self.fields.iter().map(|f| format!("Argument `{}` of `{}::{method}`.", f.ident, actor.ident));

        let docs = if self.docs.is_empty() {
            let doc = format!("The message of `{}::{method}`, generated by `#[actor]`.", actor.ident);
            quote!(#[doc = #doc])
        } else {
            let docs = &self.docs;
            quote!(#(#docs)*)
        };
        let derives = (!self.derives.is_empty()).then(|| {
            let derives = &self.derives;
            quote!(#[derive(#(#derives),*)])
        });
        let body = if self.fields.is_empty() {
            quote!(;)
        } else {
            quote!({ #( #[doc = #field_docs] #vis #field_idents: #field_types, )* })
        };
        let mut definition = quote!(#docs #derives #vis struct #name #body);
        if let Some((wire_name, span)) = &self.wire_name {
            let (serde_body, support) = self.remote_support(actor);
            let serde_definition = quote!(#docs #derives #vis struct #name #serde_body);
            let wire_name = syn::LitStr::new(wire_name, *span);
            definition = quote_spanned! {*span=>
                ::actor_core::__private::remote_message! {
                    [#serde_definition] [#support] [#definition] #name #wire_name
                }
            };
        }

        let msg = Ident::new("__msg", Span::mixed_site());
        let ctx = Ident::new("__ctx", Span::mixed_site());
        let ctx_arg = self.takes_ctx.then(|| quote!(#ctx));
        let call = quote!(Self::#method(self, #(#field_idents,)* #ctx_arg));
        // A sync method runs as soon as the runtime starts the handler (which
        // catches panics there too) and the future only carries the reply; an
        // async method's own future is the handler's future.
        // A message that derives `Debug` shows its value in flight records.
        let describe = self
            .derives
            .iter()
            .any(|p| p.is_ident("Debug") || p.segments.last().is_some_and(|s| s.ident == "Debug"))
            .then(|| {
                quote! {
                    fn describe(&self) -> ::core::option::Option<::std::string::String> {
                        ::core::option::Option::Some(::std::format!("{self:?}"))
                    }
                }
            });
        let body = if self.is_async { call } else { quote!(::core::future::ready(#call)) };
        // At the user's reply type: a message more visible than its reply
        // type is an error there ("private type in public interface").
        let reply_item = quote_spanned!(self.reply_span=> type Reply = #reply;);
        quote! {
            #definition

            impl ::actor_core::Message for #name {
                #reply_item
                #describe
            }

            impl ::actor_core::Handler<#name> for #actor_ty {
                fn handle(
                    &mut self,
                    #msg: #name,
                    #ctx: &mut ::actor_core::Context<Self>,
                ) -> impl ::core::future::Future<Output = #reply> + ::core::marker::Send {
                    let #name { #(#field_idents),* } = #msg;
                    #body
                }
            }
        }
    }
}

impl MessageSpec {
    /// For a remote message: the struct body with a serde attribute on each
    /// field, and the functions those attributes name plus one check per
    /// field (see `actor_core::__private::wire`). Each field is serialized
    /// through a function of its concrete type, so serde's derive adds no
    /// bound of its own and a field that is not serializable gets the
    /// check's one error, at the argument.
    fn remote_support(&self, actor: &ActorInfo) -> (TokenStream, TokenStream) {
        let name = &self.name;
        let vis = &self.vis;
        if self.fields.is_empty() {
            return (quote!(;), TokenStream::new());
        }
        let wire = quote!(::actor_core::__private::wire);
        let mut fields = Vec::new();
        let mut functions = Vec::new();
        let mut checks = Vec::new();
        for (index, Field { ident, ty }) in self.fields.iter().enumerate() {
            let bare = ident.unraw();
            let ser = format_ident!("__serialize_{}", bare);
            let de = format_ident!("__deserialize_{}", bare);
            let ser_path = format!("{name}::{ser}");
            let de_path = format!("{name}::{de}");
            let doc = format!("Argument `{ident}` of `{}::{}`.", actor.ident, self.method);
            fields.push(quote! {
                #[doc = #doc]
                #[serde(serialize_with = #ser_path, deserialize_with = #de_path)]
                #vis #ident: #ty,
            });
            functions.push(quote! {
                fn #ser<S: ::actor_core::__private::serde::Serializer>(value: &#ty, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                    #[allow(unused_imports)]
                    use #wire::{AsBytes as _, Unserializable as _, ViaSerde as _};
                    (&&&#wire::Probe::<#ty>::new()).serialize_field(value, serializer)
                }
                fn #de<'de, D: ::actor_core::__private::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<#ty, D::Error> {
                    #[allow(unused_imports)]
                    use #wire::{AsBytes as _, Unserializable as _, ViaSerde as _};
                    (&&&#wire::Probe::<#ty>::new()).deserialize_field(deserializer)
                }
            });
            // The argument's name as a type, for the error; declared in a
            // block of its own, so that it shadows nothing the field's type
            // names (`bytes: bytes::Bytes`).
            // The call is spanned at the argument's type, where the error
            // then points.
            let alias = format_ident!("__Argument{index}");
            let mut alias_at_type = alias.clone();
            alias_at_type.set_span(ty.span());
            let call = quote_spanned! {ty.span()=>
                ::actor_core::__private::wire::check_argument::<#bare, #alias_at_type>();
            };
            checks.push(quote! {
                type #alias = #ty;
                {
                    #[allow(non_camel_case_types, dead_code)]
                    struct #bare;
                    #call
                }
            });
        }
        let support = quote! {
            #[doc(hidden)]
            #[allow(dead_code, non_snake_case)]
            impl #name {
                #(#functions)*

                /// Compiles only if every argument is serializable.
                fn __check_arguments() {
                    #(#checks)*
                }
            }
        };
        (quote!({ #(#fields)* }), support)
    }
}

/// Reports clashing struct names, wire names and client method names; drops
/// the later of two clashing messages.
fn check_unique(specs: &mut Vec<MessageSpec>, errors: &mut Errors) {
    let mut names: HashMap<String, Ident> = HashMap::new();
    let mut wire_names: HashMap<String, Ident> = HashMap::new();
    let mut client_methods: HashMap<String, Ident> = HashMap::new();
    specs.retain(|spec| {
        let mut ok = true;
        if let Some(first) = names.get(&spec.name.to_string()) {
            errors.spanned(
                &spec.name,
                format_args!(
                    "message name `{}` is already used by `{first}`; pick another with `#[message(name = \"..\")]`",
                    spec.name
                ),
            );
            ok = false;
        }
        if let Some((wire, span)) = &spec.wire_name
            && let Some(first) = wire_names.get(wire)
        {
            errors.at(*span, format_args!("wire name `{wire}` is already used by `{first}`"));
            ok = false;
        }
        let method = spec.method.unraw().to_string();
        if ACTOR_REF_METHODS.contains(&method.as_str()) {
            errors.spanned(
                &spec.method,
                format_args!(
                    "`ActorRef::{method}` already exists, so the typed client method `{method}` would never be \
                     called; rename this method"
                ),
            );
            ok = false;
        }
        for client_name in [method.clone(), format!("tell_{method}")] {
            if let Some(first) = client_methods.get(&client_name) {
                errors.spanned(
                    &spec.method,
                    format_args!("the typed client already has a method `{client_name}`, made for `{first}`"),
                );
                ok = false;
            }
        }
        if ok {
            names.insert(spec.name.to_string(), spec.method.clone());
            if let Some((wire, _)) = &spec.wire_name {
                wire_names.insert(wire.clone(), spec.method.clone());
            }
            client_methods.insert(method.clone(), spec.method.clone());
            client_methods.insert(format!("tell_{method}"), spec.method.clone());
        }
        ok
    });
}

/// The extension trait on `ActorRef<MyActor>`, its impl, and (unless the
/// visibility was given with `vis = ..`) the check that the trait is at
/// least as visible as the actor type.
fn emit_client(specs: &[MessageSpec], actor: &ActorInfo, block: &ItemImpl) -> TokenStream {
    if specs.is_empty() {
        return TokenStream::new();
    }
    let ActorInfo { self_ty, ident, client, .. } = actor;
    let vis = actor.vis.clone().unwrap_or_else(|| widest_visibility(specs.iter().map(|s| &s.vis)));
    let mut declarations = Vec::new();
    let mut definitions = Vec::new();
    for spec in specs {
        let MessageSpec { method, name, .. } = spec;
        let tell = format_ident!("tell_{}", method.unraw(), span = method.span());
        let params: Vec<_> = spec.fields.iter().map(|Field { ident, ty }| quote!(#ident: #ty)).collect();
        let idents: Vec<_> = spec.fields.iter().map(|f| &f.ident).collect();
        let method_docs = &spec.docs;
        let ask_doc = format!(
            "Asks the actor with a `{name}` message (it runs `{ident}::{method}`): `.await` the request for \
             the reply, or set a `.timeout(..)` first."
        );
        let ask_doc = if method_docs.is_empty() {
            quote!(#[doc = #ask_doc])
        } else {
            quote!(#(#method_docs)* #[doc = ""] #[doc = #ask_doc])
        };
        let tell_doc =
            format!("Tells the actor a `{name}` message (it runs `{ident}::{method}`) without waiting for the reply.");
        let tell_output = quote! {
            impl ::core::future::Future<
                Output = ::core::result::Result<(), ::actor_core::error::SendError<#name>>,
            > + ::core::marker::Send
        };
        // `where Self: Sized` keeps the methods out of `dyn` use, so that
        // `dyn Client` names the trait in the visibility check below.
        declarations.push(quote! {
            #ask_doc
            fn #method(&self, #(#params),*) -> ::actor_core::AskRequest<'_, #name> where Self: ::core::marker::Sized;
            #[doc = #tell_doc]
            fn #tell(&self, #(#params),*) -> #tell_output where Self: ::core::marker::Sized;
        });
        definitions.push(quote! {
            fn #method(&self, #(#params),*) -> ::actor_core::AskRequest<'_, #name> {
                ::actor_core::ActorRef::ask(self, #name { #(#idents),* })
            }
            fn #tell(&self, #(#params),*) -> #tell_output {
                ::actor_core::ActorRef::tell(self, #name { #(#idents),* })
            }
        });
    }
    let trait_doc = format!(
        "The typed client of `{ident}`, generated by `#[actor]`: for each message method, an ask method of \
         the same name and a `tell_` method."
    );
    // Tells apart the items made for two `#[actor]` blocks (two clients)
    // of one actor.
    let key = fnv1a(client.unraw().to_string().as_bytes());
    let check = actor.vis.is_none().then(|| {
        // A public `impl` whose associated type names a less visible trait
        // is an error (E0446): so this fails to compile exactly when the
        // actor type is more visible than its client.
        let at_actor = block.self_ty.span();
        let client_type = quote_spanned!(at_actor=> type Client = dyn #client;);
        quote! {
            impl ::actor_core::__private::ClientVisibility<#key> for #self_ty {
                #client_type
            }
        }
    });
    // Without `vis = ..`, the trait's visibility comes from a method's:
    // errors about it ("private trait in public interface") point there.
    let declared_at = match &actor.vis {
        Some(_) => Span::call_site(),
        None => specs.iter().max_by_key(|s| vis_rank(&s.vis)).map_or_else(Span::call_site, |s| s.method.span()),
    };
    let mut client_decl = client.clone();
    client_decl.set_span(declared_at);
    let client_trait = quote_spanned! {declared_at=>
        #vis trait #client_decl {
            #(#declarations)*
        }
    };
    quote! {
        #[doc = #trait_doc]
        // The argument lists are the methods' own: lints about them belong there.
        #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
        #client_trait

        #[allow(clippy::too_many_arguments)]
        impl #client for ::actor_core::ActorRef<#self_ty> {
            #(#definitions)*
        }

        #check

        // A second handler, for a message that cannot exist: see
        // `actor_core::__private::Unhandled`.
        #[doc(hidden)]
        #[diagnostic::do_not_recommend]
        impl ::actor_core::Handler<::actor_core::__private::Unhandled<#self_ty, #key>> for #self_ty {
            #[allow(unreachable_code)]
            fn handle(
                &mut self,
                msg: ::actor_core::__private::Unhandled<#self_ty, #key>,
                _: &mut ::actor_core::Context<Self>,
            ) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send {
                ::core::future::ready::<()>(match msg.never() {})
            }
        }
    }
}

/// FNV-1a of `bytes`: a stable key per client name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn emit_actor_impl(options: &ActorOptions, actor: &ActorInfo) -> TokenStream {
    if options.no_actor_impl.is_some() {
        return TokenStream::new();
    }
    let self_ty = &actor.self_ty;
    let error = options.error.as_ref().map_or_else(|| quote!(::core::convert::Infallible), |e| e.to_token_stream());
    quote! {
        impl ::actor_core::Actor for #self_ty {
            type Error = #error;
        }
    }
}

/// The most visible of the message methods' visibilities, for the client
/// trait: `pub`, then `pub(crate)`, then any other restriction, then private.
fn widest_visibility<'a>(all: impl Iterator<Item = &'a Visibility>) -> Visibility {
    all.max_by_key(|v| vis_rank(v)).cloned().unwrap_or(Visibility::Inherited)
}

/// `pub`, then `pub(crate)`, then any other restriction, then private.
fn vis_rank(vis: &Visibility) -> u8 {
    match vis {
        Visibility::Public(_) => 3,
        Visibility::Restricted(r) if r.path.is_ident("crate") => 2,
        Visibility::Restricted(_) => 1,
        Visibility::Inherited => 0,
    }
}

/// `get_count` -> `GetCount`.
fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let mut chars = part.chars();
            let first = chars.next().into_iter().flat_map(char::to_uppercase);
            first.chain(chars)
        })
        .collect()
}

enum ContextParam {
    No,
    ByReference,
    ByValue,
}

/// Whether `ty` is the handler context: a path ending in `Context`.
fn context_param(ty: &Type) -> ContextParam {
    let is_context = |ty: &Type| match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
        _ => false,
    };
    match ty {
        Type::Reference(r) if is_context(&r.elem) => ContextParam::ByReference,
        ty if is_context(ty) => ContextParam::ByValue,
        _ => ContextParam::No,
    }
}

#[derive(Clone, Copy)]
enum Place {
    Argument,
    Reply,
}

/// Rejects what cannot travel in a message: borrows and `impl Trait`.
struct OwnedCheck<'e> {
    errors: &'e mut Errors,
    place: Place,
}

impl<'ast> Visit<'ast> for OwnedCheck<'_> {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if r.lifetime.as_ref().is_some_and(|l| l.ident == "static") {
            return syn::visit::visit_type(self, &r.elem);
        }
        let message = match self.place {
            Place::Argument => format!(
                "`{}` is borrowed, but the arguments of a `#[message]` method are moved into the message and \
                 sent to the actor's task: take an owned type (such as `String` for `&str`, `Vec<T>` for `&[T]`)",
                r.to_token_stream().to_string().replace("& ", "&")
            ),
            Place::Reply => "the reply of a `#[message]` method is sent to the asker's task, so it cannot borrow \
                             from the actor: return an owned value"
                .to_owned(),
        };
        self.errors.spanned(r, message);
    }

    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        let message = match self.place {
            Place::Argument => {
                "an `impl Trait` argument makes the method generic, but a message field needs one concrete type: \
                 name the type (or take a `Box<dyn Trait + Send>`)"
            }
            Place::Reply => {
                "`impl Trait` cannot be named as the message's `Reply` type: return a concrete type \
                 (or a `Box<dyn Trait + Send>`)"
            }
        };
        self.errors.spanned(t, message);
    }

    fn visit_type_path(&mut self, t: &'ast syn::TypePath) {
        if is_rc(&t.path) {
            let message = match self.place {
                Place::Argument => {
                    "`Rc` is not `Send`, but the arguments of a `#[message]` method are sent to the \
                                    actor's task: use `Arc` instead"
                }
                Place::Reply => {
                    "`Rc` is not `Send`, but the reply of a `#[message]` method is sent to the asker's \
                                 task: use `Arc` instead"
                }
            };
            return self.errors.spanned(t, message);
        }
        syn::visit::visit_type_path(self, t);
    }

    fn visit_type_ptr(&mut self, t: &'ast syn::TypePtr) {
        self.errors.spanned(t, "raw pointers are not `Send`, so they cannot travel in a message");
    }

    fn visit_type_infer(&mut self, t: &'ast syn::TypeInfer) {
        self.errors.spanned(t, "a `#[message]` method needs fully written types, not `_`");
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if l.ident != "static" {
            self.errors
                .spanned(l, format_args!("a message must be `'static`, so its types cannot use the lifetime `{l}`"));
        }
    }

    // Function pointers and `Fn(&T)` bounds may elide lifetimes and still
    // be `'static` types: leave them alone.
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}

    fn visit_parenthesized_generic_arguments(&mut self, _: &'ast syn::ParenthesizedGenericArguments) {}
}

/// `Rc<..>`, `rc::Rc<..>`, `std::rc::Rc<..>`, `rc::Weak<..>`: the common
/// non-`Send` types, caught here so the user gets one error at the argument
/// instead of the compiler's several at the generated impls.
fn is_rc(path: &Path) -> bool {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match names.as_slice() {
        [only] => only == "Rc",
        [.., module, last] => module == "rc" && (last == "Rc" || last == "Weak"),
        [] => false,
    }
}

/// Replaces `Self` by the actor type, for types used outside the impl block.
struct ReplaceSelf<'a>(&'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        syn::visit_mut::visit_type_mut(self, ty);
        let Type::Path(path) = ty else { return };
        if path.qself.is_some() || path.path.leading_colon.is_some() {
            return;
        }
        let segments = &path.path.segments;
        if segments.first().is_none_or(|s| s.ident != "Self") {
            return;
        }
        let actor = self.0;
        if segments.len() == 1 {
            *ty = actor.clone();
        } else {
            let rest = segments.iter().skip(1);
            *ty = parse_quote!(<#actor>::#(#rest)::*);
        }
    }
}

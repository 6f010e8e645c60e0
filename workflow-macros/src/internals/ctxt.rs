use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects every error a stage finds, so that the user sees all of them at once.
///
/// Dropping a `Ctxt` without calling [`Ctxt::check`] is a bug in the macro and
/// panics, so that no error is ever silently lost.
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
    /// Per error, the types it is about if it is a graph error: rustc shows
    /// it only once each of them is proven an event (see [`Ctxt::error_about`]).
    guards: RefCell<Vec<Option<Vec<syn::Type>>>>,
}

/// An error, with the event types it is about if it waits for rustc.
pub type Reported = (syn::Error, Option<Vec<syn::Type>>);

impl Ctxt {
    pub fn new() -> Self {
        Self { errors: RefCell::new(Some(Vec::new())), guards: RefCell::new(Vec::new()) }
    }

    /// Records a graph error about event types `about`, spanned at `tokens`.
    /// The macro reads signatures as written and cannot tell a type alias
    /// from an event; rustc can. So such an error is shown only if every type
    /// it is about is an event: where one is not (an alias of `Emit<..>`,
    /// say), rustc's error at that type is the one error the user sees.
    pub fn error_about<'a, T: ToTokens, M: Display>(
        &self,
        tokens: T,
        message: M,
        about: impl IntoIterator<Item = &'a syn::Type>,
    ) {
        self.error_spanned_by(tokens, message);
        let guards = about.into_iter().cloned().collect();
        *self.guards.borrow_mut().last_mut().expect("just pushed") = Some(guards);
    }

    /// Records an error spanned at `tokens`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error at a span.
    pub fn error_at<M: Display>(&self, span: proc_macro2::Span, message: M) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error syn produced.
    pub fn syn_error(&self, error: syn::Error) {
        self.push(error);
    }

    fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().as_mut().expect("Ctxt used after check").push(error);
        self.guards.borrow_mut().push(None);
    }

    /// Ends collection: `Err` with every error, in the order found, if there was any.
    pub fn check(self) -> Result<(), Vec<syn::Error>> {
        self.check_guarded().map_err(|errors| errors.into_iter().map(|(e, _)| e).collect())
    }

    /// Like [`Ctxt::check`], with the types each graph error is about.
    pub fn check_guarded(self) -> Result<(), Vec<Reported>> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        let guards = std::mem::take(&mut *self.guards.borrow_mut());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into_iter().zip(guards).collect())
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("Ctxt dropped without check()");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_error_in_order() {
        let cx = Ctxt::new();
        cx.error_at(proc_macro2::Span::call_site(), "first");
        cx.error_at(proc_macro2::Span::call_site(), "second");
        let errors = cx.check().unwrap_err();
        let messages: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn no_errors_is_ok() {
        assert!(Ctxt::new().check().is_ok());
    }
}

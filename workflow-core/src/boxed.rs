//! The boxed error steps and factories return: the bottom of the crate,
//! which everything that carries a user's error names.

/// Any error a step returns, boxed so that steps may use their own error types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Boxes a step's error; generated code calls this on the `Err` of a fallible step.
#[doc(hidden)]
pub fn box_error<E: Into<BoxError>>(error: E) -> BoxError {
    error.into()
}

//! `Emit<(A, B, ..)>` (also spelled `OneOf`): one event out of several types.
//!
//! As a return type, a step that may emit one of several events (a branch);
//! as a parameter type, a step that consumes several event types. The
//! `#[workflow]` macro reads the tuple to learn every edge; the type system
//! makes sure only the listed types go in.

use std::fmt;

/// One event out of the alternatives listed in the tuple `T`.
///
/// ```
/// # use workflow_core::prelude::*;
/// # #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)] struct Retry;
/// # #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)] struct Done;
/// fn decide(ok: bool) -> Emit<(Retry, Done)> {
///     if ok { Emit::new(Done) } else { Emit::new(Retry) }
/// }
/// ```
///
/// `Emit::new` accepts exactly the types in the tuple; anything else is a
/// type error. List each type once: the macro rejects duplicates.
pub struct Emit<T: Branches> {
    choice: T::Choice,
}

/// The same type as [`Emit`], for parameters: `ev: OneOf<(A, B)>` reads
/// better than `ev: Emit<(A, B)>` for a step that consumes either.
pub type OneOf<T> = Emit<T>;

impl<T: Branches> Emit<T> {
    /// Emits `event`, which must be one of the tuple's types.
    pub fn new<E, I>(event: E) -> Self
    where
        Self: Inject<E, I>,
    {
        <Self as Inject<E, I>>::inject(event)
    }

    /// The chosen alternative, for generated code.
    #[doc(hidden)]
    pub fn into_choice(self) -> T::Choice {
        self.choice
    }
}

impl<T: Branches> fmt::Debug for Emit<T>
where
    T::Choice: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.choice.fmt(f)
    }
}

/// A tuple of event types that an [`Emit`] chooses from.
#[diagnostic::on_unimplemented(
    message = "`Emit` lists its alternatives as a tuple of 2 to 8 event types, not `{Self}`",
    label = "write `Emit<(A, B)>`"
)]
pub trait Branches {
    /// The enum with one variant per tuple element.
    type Choice;
}

/// Builds an [`Emit`] from one of its alternatives; `I` is the position,
/// inferred by the compiler so that each type maps to exactly one branch.
#[diagnostic::on_unimplemented(
    message = "`{E}` is not one of the events listed in `{Self}`",
    label = "this event type is not listed",
    note = "`Emit::new` takes exactly one of the types in the `Emit<(..)>` of the step's return type; \
            add `{E}` there (once) or emit a listed type"
)]
pub trait Inject<E, I> {
    /// Wraps `event` as the branch at position `I`.
    fn inject(event: E) -> Self;
}

/// Type-level position of a branch, used only for inference.
#[doc(hidden)]
pub struct At<const N: usize>;

macro_rules! choices {
    ($( $name:ident $all:tt { $($var:ident : $ty:ident @ $idx:literal),+ } )+) => {$(
        /// The chosen branch of an [`Emit`]; used by generated code.
        #[doc(hidden)]
        #[derive(Debug)]
        pub enum $name<$($ty),+> { $($var($ty)),+ }

        #[diagnostic::do_not_recommend]
        impl<$($ty),+> Branches for ($($ty,)+) {
            type Choice = $name<$($ty),+>;
        }

        $( choices!(@inject $name $all $var $ty $idx); )+
    )+};
    (@inject $name:ident [$($all:ident),+] $var:ident $ty:ident $idx:literal) => {
        #[diagnostic::do_not_recommend]
        impl<$($all),+> Inject<$ty, At<$idx>> for Emit<($($all,)+)> {
            fn inject(event: $ty) -> Self {
                Emit { choice: $name::$var(event) }
            }
        }
    };
}

// `Choice1` exists only so that `Emit<(A,)>`, which the macro rejects with its
// own error, does not add a cascade of type errors.
choices! {
    Choice1 [A] { V0: A @ 0 }
    Choice2 [A, B] { V0: A @ 0, V1: B @ 1 }
    Choice3 [A, B, C] { V0: A @ 0, V1: B @ 1, V2: C @ 2 }
    Choice4 [A, B, C, D] { V0: A @ 0, V1: B @ 1, V2: C @ 2, V3: D @ 3 }
    Choice5 [A, B, C, D, E] { V0: A @ 0, V1: B @ 1, V2: C @ 2, V3: D @ 3, V4: E @ 4 }
    Choice6 [A, B, C, D, E, F] { V0: A @ 0, V1: B @ 1, V2: C @ 2, V3: D @ 3, V4: E @ 4, V5: F @ 5 }
    Choice7 [A, B, C, D, E, F, G] { V0: A @ 0, V1: B @ 1, V2: C @ 2, V3: D @ 3, V4: E @ 4, V5: F @ 5, V6: G @ 6 }
    Choice8 [A, B, C, D, E, F, G, H] { V0: A @ 0, V1: B @ 1, V2: C @ 2, V3: D @ 3, V4: E @ 4, V5: F @ 5, V6: G @ 6, V7: H @ 7 }
}

/// The most alternatives one `Emit` can list.
pub const MAX_BRANCHES: usize = 8;

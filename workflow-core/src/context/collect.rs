//! `ctx.collect_events::<(A, B, B)>(ev)`: wait for a multiset of events.

use crate::contract::Variant;

/// A tuple of event types that [`Context::collect_events`](super::Context::collect_events)
/// fills from the events a step has seen; implemented for tuples of 1 to 8.
pub trait Collect<E>: Sized {
    /// Whether `event` has one of the tuple's types.
    fn wants(event: &E) -> bool;
    /// Takes one buffered event per tuple element, in the tuple's order, if
    /// the buffer holds enough; leaves the buffer alone otherwise.
    fn take(buffer: &mut Vec<E>) -> Option<Self>;
}

macro_rules! collect_tuples {
    ($( ($($T:ident $i:tt),+) )+) => {$(
        impl<E, $($T),+> Collect<E> for ($($T,)+)
        where
            E: $(Variant<$T> +)+ Sized,
        {
            fn wants(event: &E) -> bool {
                false $(|| Variant::<$T>::as_variant(event).is_some())+
            }

            fn take(buffer: &mut Vec<E>) -> Option<Self> {
                const N: usize = [$($i),+].len();
                let mut picked = [usize::MAX; N];
                $(
                    picked[$i] = (0..buffer.len()).find(|&at| {
                        !picked[..$i].contains(&at) && Variant::<$T>::as_variant(&buffer[at]).is_some()
                    })?;
                )+
                let mut slots: [Option<E>; N] = std::array::from_fn(|_| None);
                let mut order: Vec<(usize, usize)> = picked.iter().copied().enumerate().map(|(slot, at)| (at, slot)).collect();
                order.sort_unstable_by(|a, b| b.cmp(a));
                for (at, slot) in order {
                    slots[slot] = Some(buffer.remove(at));
                }
                Some(($(
                    match slots[$i].take().map(Variant::<$T>::into_variant) {
                        Some(Ok(event)) => event,
                        _ => unreachable!("slot {} was picked for its type", $i),
                    },
                )+))
            }
        }
    )+};
}

collect_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, F 4)
    (A 0, B 1, C 2, D 3, F 4, G 5)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Ev {
        Weather(u8),
        News(u8),
        Other,
    }

    #[derive(Debug, PartialEq)]
    struct Weather(u8);
    #[derive(Debug, PartialEq)]
    struct News(u8);

    impl Variant<Weather> for Ev {
        const INDEX: usize = 0;
        fn as_variant(&self) -> Option<&Weather> {
            // Test double: compare by kind only.
            matches!(self, Ev::Weather(_)).then_some(&Weather(0))
        }
        fn into_variant(self) -> Result<Weather, Self> {
            match self {
                Ev::Weather(n) => Ok(Weather(n)),
                other => Err(other),
            }
        }
    }

    impl Variant<News> for Ev {
        const INDEX: usize = 1;
        fn as_variant(&self) -> Option<&News> {
            matches!(self, Ev::News(_)).then_some(&News(0))
        }
        fn into_variant(self) -> Result<News, Self> {
            match self {
                Ev::News(n) => Ok(News(n)),
                other => Err(other),
            }
        }
    }

    #[test]
    fn fills_the_tuple_in_its_order_once_every_slot_has_an_event() {
        let mut buffer = vec![Ev::News(1)];
        assert_eq!(<(Weather, News, News)>::take(&mut buffer), None);
        buffer.push(Ev::News(2));
        assert_eq!(<(Weather, News, News)>::take(&mut buffer), None);
        buffer.push(Ev::Weather(3));
        assert_eq!(<(Weather, News, News)>::take(&mut buffer), Some((Weather(3), News(1), News(2))));
        assert!(buffer.is_empty());
    }

    #[test]
    fn leaves_surplus_events_for_the_next_collection() {
        let mut buffer = vec![Ev::News(1), Ev::News(2), Ev::Weather(3)];
        assert_eq!(<(Weather, News)>::take(&mut buffer), Some((Weather(3), News(1))));
        assert_eq!(buffer, [Ev::News(2)]);
    }

    #[test]
    fn unrelated_types_are_not_wanted() {
        assert!(!<(Weather, News)>::wants(&Ev::Other));
        assert!(<(Weather,)>::wants(&Ev::Weather(0)));
    }
}

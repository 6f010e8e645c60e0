//! JSON Schemas of a workflow's types, with schemars' root-schema code
//! compiled once rather than once per type.
//!
//! `schema_for!(T)` instantiates the generator's whole root-schema path for
//! every `T`: about five hundred lines of LLVM IR per event type, most of a
//! registration's cost. Schemars asks a root type for its name, its id and
//! its schema, nothing else; [`Root`] answers with the functions of the
//! type being written, so that one instantiation serves every type. What
//! it writes is what `schema_for!(T)` writes, `$defs` and recursion included.

use std::borrow::Cow;
use std::cell::Cell;

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// The three functions of a type's `JsonSchema` that a root schema uses.
pub(crate) struct SchemaFns {
    name: fn() -> Cow<'static, str>,
    id: fn() -> Cow<'static, str>,
    json_schema: fn(&mut SchemaGenerator) -> Schema,
}

struct FnsOf<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> FnsOf<T> {
    const FNS: SchemaFns = SchemaFns { name: T::schema_name, id: T::schema_id, json_schema: T::json_schema };
}

thread_local! {
    /// The type [`Root`] stands for while its schema is written.
    static WRITING: Cell<Option<&'static SchemaFns>> = const { Cell::new(None) };
}

/// Stands for the type whose root schema is being written.
struct Root;

fn writing() -> &'static SchemaFns {
    WRITING.get().expect("Root stands in only while root_schema writes")
}

impl JsonSchema for Root {
    fn schema_name() -> Cow<'static, str> {
        (writing().name)()
    }

    fn schema_id() -> Cow<'static, str> {
        (writing().id)()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        (writing().json_schema)(generator)
    }
}

/// The root JSON Schema of `T`, as `schemars::schema_for!(T)` writes it.
pub(crate) fn schema_of<T: JsonSchema>() -> Schema {
    root_schema(&FnsOf::<T>::FNS)
}

fn root_schema(fns: &'static SchemaFns) -> Schema {
    // Restored after, so that a schema written while another is (by a
    // type's own `json_schema`) does not leave the outer one's `Root` wrong.
    let outer = WRITING.replace(Some(fns));
    let schema = schemars::schema_for!(Root);
    WRITING.set(outer);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Leaf {
        /// A documented field.
        n: u32,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    enum Tree {
        Leaf(Leaf),
        Node(Vec<Tree>),
    }

    #[test]
    fn writes_what_schema_for_writes() {
        assert_eq!(schema_of::<Leaf>(), schemars::schema_for!(Leaf));
        assert_eq!(schema_of::<Option<String>>(), schemars::schema_for!(Option<String>));
        assert_eq!(schema_of::<StartEvent<Vec<u8>>>(), schemars::schema_for!(StartEvent<Vec<u8>>));
    }

    #[test]
    fn writes_recursive_types_and_their_definitions_as_schema_for_does() {
        let schema = schema_of::<Tree>();
        assert_eq!(schema, schemars::schema_for!(Tree));
        assert!(schema.as_value().pointer("/$defs/Leaf").is_some(), "{schema:?}");
    }
}

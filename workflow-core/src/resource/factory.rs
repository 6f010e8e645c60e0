//! Factories declared outside the workflow: a type implementing
//! [`ResourceFactory`], whose needs are other such types.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Cache, Resource, ResourceError};
use crate::boxed::BoxError;

/// A resource factory that several workflows can share, declared anywhere:
/// name it in `#[workflow(resources = [name = MyFactory])]` and steps take
/// `name: Resource<MyFactory::Output>`.
///
/// ```
/// use workflow_core::prelude::*;
/// use workflow_core::resource::ResourceFactory;
///
/// struct Settings;
/// impl ResourceFactory for Settings {
///     type Output = String;
///     type Needs = ();
///     async fn build((): ()) -> Result<String, BoxError> {
///         Ok("https://search.invalid".to_string())
///     }
/// }
///
/// struct Client;
/// impl ResourceFactory for Client {
///     type Output = Vec<String>;
///     type Needs = (Settings,);
///     async fn build((url,): (Resource<String>,)) -> Result<Vec<String>, BoxError> {
///         Ok(vec![format!("connected to {}", *url)])
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a resource factory",
    label = "named as a resource factory here",
    note = "implement `workflow_core::resource::ResourceFactory` for it, or declare the resource as a \
            `#[resource]` method of the workflow"
)]
pub trait ResourceFactory: Send + Sync + 'static {
    /// What it builds.
    type Output: Send + Sync + 'static;
    /// The factories whose resources it is built from, as a tuple: `()`,
    /// `(Settings,)`, `(Settings, Pool)`.
    type Needs: Needs;
    /// Whether one value is built per workflow instance and shared (the
    /// default), or a fresh one for each step call.
    const CACHE: bool = true;

    /// Its name in errors and cycles: the type's name unless overridden.
    fn name() -> &'static str {
        let full = std::any::type_name::<Self>();
        let path = full.split('<').next().unwrap_or(full);
        path.rsplit("::").next().unwrap_or(path)
    }

    /// Builds the resource from the ones it needs, in the order of `Needs`.
    fn build(
        needs: <Self::Needs as Needs>::Resources,
    ) -> impl Future<Output = Result<Self::Output, BoxError>> + Send;
}

type Building<'a, T> = Pin<Box<dyn Future<Output = Result<T, ResourceError>> + Send + 'a>>;

/// What a factory is built from: a tuple of [`ResourceFactory`] types.
pub trait Needs: Send + Sync + 'static {
    /// The resources they build, as a tuple in the same order.
    type Resources: Send + 'static;

    /// The factories, for the cycle check.
    #[doc(hidden)]
    fn nodes() -> Vec<Node>;

    /// Builds (or takes from `cache`) each of them, for `step`.
    #[doc(hidden)]
    fn resolve<'a>(cache: &'a Cache, step: &'static str) -> Building<'a, Self::Resources>;
}

macro_rules! needs_tuple {
    ($($f:ident),*) => {
        impl<$($f: ResourceFactory),*> Needs for ($($f,)*) {
            type Resources = ($(Resource<$f::Output>,)*);

            fn nodes() -> Vec<Node> {
                vec![$(node::<$f>()),*]
            }

            #[allow(unused_variables)]
            fn resolve<'a>(cache: &'a Cache, step: &'static str) -> Building<'a, Self::Resources> {
                Box::pin(async move { Ok(($(shared::<$f>(cache, step).await?,)*)) })
            }
        }
    };
}

needs_tuple!();
needs_tuple!(A);
needs_tuple!(A, B);
needs_tuple!(A, B, C);
needs_tuple!(A, B, C, D);
needs_tuple!(A, B, C, D, E);
needs_tuple!(A, B, C, D, E, F);

/// The resource of factory `F`, from `cache` or built (with what it needs)
/// for `step`. Boxed: factories may name each other in a cycle, which the
/// check at run start refuses, but the types must still compile.
#[doc(hidden)]
pub fn shared<'a, F: ResourceFactory>(
    cache: &'a Cache,
    step: &'static str,
) -> Building<'a, Resource<F::Output>> {
    Box::pin(async move {
        let build = async move {
            let needs = F::Needs::resolve(cache, step).await?;
            F::build(needs).await.map_err(|source| ResourceError::Build { resource: F::name(), step, source })
        };
        if F::CACHE {
            cache.shared(TypeId::of::<F>(), build).await
        } else {
            build.await.map(|value| Resource::from_arc(Arc::new(value)))
        }
    })
}

/// The node of factory `F` in the graph of needs.
#[doc(hidden)]
pub fn node<F: ResourceFactory>() -> Node {
    Node { id: TypeId::of::<F>(), name: F::name, needs: F::Needs::nodes }
}

/// A factory in the graph of needs.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Node {
    id: TypeId,
    name: fn() -> &'static str,
    needs: fn() -> Vec<Node>,
}

/// Whether the factories `roots` and all they need, transitively, can be
/// built: an error naming the first cycle found otherwise.
#[doc(hidden)]
pub fn acyclic(roots: &[Node]) -> Result<(), ResourceError> {
    // Depth first, with the path from the root on a stack: a need already
    // on the path closes a cycle; one fully explored before is fine.
    fn visit(node: Node, path: &mut Vec<Node>, done: &mut Vec<TypeId>) -> Result<(), ResourceError> {
        if done.contains(&node.id) {
            return Ok(());
        }
        if let Some(at) = path.iter().position(|n| n.id == node.id) {
            let names: Vec<&str> = path[at..].iter().chain([&node]).map(|n| (n.name)()).collect();
            return Err(ResourceError::Cycle { cycle: names.join(" -> ") });
        }
        path.push(node);
        for need in (node.needs)() {
            visit(need, path, done)?;
        }
        path.pop();
        done.push(node.id);
        Ok(())
    }
    let mut done = Vec::new();
    for &root in roots {
        visit(root, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Base;
    impl ResourceFactory for Base {
        type Output = u32;
        type Needs = ();
        async fn build((): ()) -> Result<u32, BoxError> {
            Ok(40)
        }
    }

    struct Sum;
    impl ResourceFactory for Sum {
        type Output = u32;
        type Needs = (Base, Base);
        const CACHE: bool = false;
        async fn build((a, b): (Resource<u32>, Resource<u32>)) -> Result<u32, BoxError> {
            Ok(*a + *b / 20)
        }
    }

    struct Ping;
    impl ResourceFactory for Ping {
        type Output = ();
        type Needs = (Pong,);
        async fn build(_: (Resource<()>,)) -> Result<(), BoxError> {
            Ok(())
        }
    }

    struct Pong;
    impl ResourceFactory for Pong {
        type Output = ();
        type Needs = (Base, Ping);
        async fn build(_: (Resource<u32>, Resource<()>)) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn a_cycle_is_named_from_where_it_closes() {
        assert!(acyclic(&[node::<Sum>(), node::<Base>()]).is_ok(), "a need shared twice is no cycle");
        match acyclic(&[node::<Sum>(), node::<Ping>()]) {
            Err(ResourceError::Cycle { cycle }) => assert_eq!(cycle, "Ping -> Pong -> Ping"),
            other => panic!("expected the cycle, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn needs_are_built_first_and_cached_ones_shared() {
        let cache = Cache::default();
        let first = shared::<Sum>(&cache, "s").await.unwrap();
        let second = shared::<Sum>(&cache, "s").await.unwrap();
        assert_eq!((*first, *second), (42, 42));
        assert!(!Arc::ptr_eq(&Resource::into_arc(first), &Resource::into_arc(second)), "uncached: one each");
        let a = shared::<Base>(&cache, "s").await.unwrap();
        let b = shared::<Base>(&cache, "s").await.unwrap();
        assert!(Arc::ptr_eq(&Resource::into_arc(a), &Resource::into_arc(b)), "cached: one for all");
    }
}

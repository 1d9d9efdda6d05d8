//! The event bus of a [`Base`]: named handlers, links that see every event, and waiters.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::base::Base;
use crate::util::lock;

/// An event: a name and a payload of any type.
///
/// Payloads are shared, not copied: a handler that needs to hand a value back to the firer
/// can put a `Mutex` in the payload (the firer gets the event back from [`Base::fire`]).
#[derive(Clone)]
pub struct Event {
    name: Arc<str>,
    info: Arc<dyn Any + Send + Sync>,
}

impl Event {
    /// A new event.
    pub fn new<T: Any + Send + Sync>(name: &str, info: T) -> Self {
        Self {
            name: Arc::from(name),
            info: Arc::new(info),
        }
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The payload, if it has type `T`.
    pub fn info<T: Any>(&self) -> Option<&T> {
        self.info.downcast_ref()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("name", &self.name).finish()
    }
}

/// Identifies a registered handler, for [`Base::off`] and [`Base::unlink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

type Handler = Arc<dyn Fn(Event) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
pub(crate) struct Handlers {
    next: u64,
    named: HashMap<Arc<str>, Vec<(HandlerId, Handler)>>,
    links: Vec<(HandlerId, Handler)>,
}

impl Handlers {
    fn next_id(&mut self) -> HandlerId {
        self.next += 1;
        HandlerId(self.next)
    }

    pub(crate) fn clear(&mut self) {
        self.named.clear();
        self.links.clear();
    }
}

/// The error of a [`Waiter`] used as a guard whose events did not all arrive in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timeout waiting for {count} event(s): {names}")]
pub struct TimeOut {
    /// How many events were expected.
    pub count: usize,
    /// The comma-joined names waited for.
    pub names: String,
}

fn boxed<F, Fut>(handler: F) -> Handler
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |event| handler(event).boxed())
}

impl Base {
    /// Call `handler` for every event named `name`, in registration order.
    pub fn on<F, Fut>(&self, name: &str, handler: F) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_handler(Some(name), boxed(handler))
    }

    /// Like [`Base::on`], and the handler is removed when `until` is torn down.
    pub fn on_until<F, Fut>(&self, name: &str, handler: F, until: &Base) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.on(name, handler);
        let me = std::sync::Arc::downgrade(&self.inner);
        let name: Arc<str> = Arc::from(name);
        until.on_fini(move || async move {
            if let Some(inner) = me.upgrade() {
                Base { inner }.off(&name, id);
            }
        });
        id
    }

    /// Remove a handler registered with [`Base::on`]; unknown ids are ignored.
    pub fn off(&self, name: &str, id: HandlerId) {
        let mut handlers = lock(&self.inner.handlers);
        if let Some(list) = handlers.named.get_mut(name) {
            list.retain(|(have, _)| *have != id);
            if list.is_empty() {
                handlers.named.remove(name);
            }
        }
    }

    /// Call `handler` for every event, after the named handlers.
    pub fn link<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_handler(None, boxed(handler))
    }

    /// Forward every event of this base to `other`.
    pub fn link_to(&self, other: &Base) -> HandlerId {
        let other = other.clone();
        self.link(move |event| {
            let other = other.clone();
            async move {
                other.dist(event).await;
            }
        })
    }

    /// Remove a link; unknown ids are ignored.
    pub fn unlink(&self, id: HandlerId) {
        lock(&self.inner.handlers)
            .links
            .retain(|(have, _)| *have != id);
    }

    fn add_handler(&self, name: Option<&str>, handler: Handler) -> HandlerId {
        let mut handlers = lock(&self.inner.handlers);
        let id = handlers.next_id();
        match name {
            Some(name) => handlers
                .named
                .entry(Arc::from(name))
                .or_default()
                .push((id, handler)),
            None => handlers.links.push((id, handler)),
        }
        id
    }

    /// Build an event and distribute it; returns the event (a handler may have filled a
    /// `Mutex` in its payload). After teardown nothing is dispatched.
    pub async fn fire<T: Any + Send + Sync>(&self, name: &str, info: T) -> Event {
        let event = Event::new(name, info);
        self.dist(event.clone()).await;
        event
    }

    /// Distribute an event: named handlers in registration order, then links. A handler that
    /// panics is logged and the others still run. Returns how many handlers were called.
    pub async fn dist(&self, event: Event) -> usize {
        if self.is_fini() {
            return 0;
        }
        let todo: Vec<Handler> = {
            let handlers = lock(&self.inner.handlers);
            handlers
                .named
                .get(event.name())
                .into_iter()
                .flatten()
                .chain(handlers.links.iter())
                .map(|(_, handler)| Arc::clone(handler))
                .collect()
        };
        for handler in &todo {
            if AssertUnwindSafe(handler(event.clone()))
                .catch_unwind()
                .await
                .is_err()
            {
                tracing::error!(event = event.name(), "an event handler panicked");
            }
        }
        todo.len()
    }

    /// Collect the next `count` events named in `names` (every event when `names` is empty).
    /// Create the waiter before the events are fired: it does not see past events.
    pub fn waiter(&self, count: usize, names: &[&str]) -> Waiter {
        // Unbounded, but a waiter stops taking events (and unregisters) once it has `count`.
        let (send, recv) = mpsc::unbounded_channel();
        let register = |this: &Base, name: Option<&str>| {
            let send = send.clone();
            this.add_handler(
                name,
                boxed(move |event| {
                    let _ = send.send(event);
                    async {}
                }),
            )
        };
        let ids = if names.is_empty() {
            vec![(None, register(self, None))]
        } else {
            names
                .iter()
                .map(|name| (Some(Arc::<str>::from(*name)), register(self, Some(name))))
                .collect()
        };
        Waiter {
            base: self.clone(),
            count,
            names: names.join(","),
            ids,
            recv,
        }
    }
}

/// Collects events fired on a [`Base`]; made by [`Base::waiter`]. Single use: its handlers are
/// removed when it has waited or is dropped.
pub struct Waiter {
    base: Base,
    count: usize,
    names: String,
    ids: Vec<(Option<Arc<str>>, HandlerId)>,
    recv: mpsc::UnboundedReceiver<Event>,
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("count", &self.count)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Waiter {
    /// Wait for the events: all of them, or `None` if `timeout` passed first.
    pub async fn wait(mut self, timeout: Option<Duration>) -> Option<Vec<Event>> {
        let count = self.count;
        let recv = &mut self.recv;
        let collect = async move {
            let mut events = Vec::with_capacity(count);
            while events.len() < count {
                events.push(recv.recv().await?);
            }
            Some(events)
        };
        match timeout {
            None => collect.await,
            Some(limit) => tokio::time::timeout(limit, collect).await.ok().flatten(),
        }
    }

    /// Wait, turning a timeout into a [`TimeOut`] error naming what was awaited.
    pub async fn expect(self, timeout: Duration) -> Result<Vec<Event>, TimeOut> {
        let err = TimeOut {
            count: self.count,
            names: self.names.clone(),
        };
        self.wait(Some(timeout)).await.ok_or(err)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        for (name, id) in self.ids.drain(..) {
            match name {
                Some(name) => self.base.off(&name, id),
                None => self.base.unlink(id),
            }
        }
    }
}

//! [`genr`]: write a telepath generator as an async block that emits values.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use rmpv::Value;

use crate::error::RemoteError;

/// A boxed stream of generator items, as a method returns it.
pub type ValueStream = Pin<Box<dyn Stream<Item = Result<Value, RemoteError>> + Send + 'static>>;

#[derive(Default)]
struct Slot {
    item: Option<Value>,
    /// The emitter waiting for its item to be taken.
    emitter: Option<Waker>,
    /// The consumer waiting for an item (only when the emitter runs on another task).
    consumer: Option<Waker>,
}

/// The handle a [`genr`] body uses to emit items.
#[derive(Clone)]
pub struct Yielder {
    slot: Arc<Mutex<Slot>>,
}

impl Yielder {
    /// Emit one item; resolves once the consumer has taken it.
    pub fn emit(&self, value: impl Into<Value>) -> Emit<'_> {
        Emit {
            yielder: self,
            value: Some(value.into()),
        }
    }
}

/// The future returned by [`Yielder::emit`].
pub struct Emit<'a> {
    yielder: &'a Yielder,
    value: Option<Value>,
}

impl Future for Emit<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = lock(&self.yielder.slot);
        if self.value.is_some() {
            if slot.item.is_some() {
                // Another emitter (a clone used elsewhere) is ahead: wait for the slot.
                slot.emitter = Some(cx.waker().clone());
                return Poll::Pending;
            }
            slot.item = self.value.take();
            slot.emitter = Some(cx.waker().clone());
            if let Some(consumer) = slot.consumer.take() {
                consumer.wake();
            }
            return Poll::Pending;
        }
        if slot.item.is_some() {
            slot.emitter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(())
    }
}

struct Genr<Fut> {
    body: Option<Pin<Box<Fut>>>,
    slot: Arc<Mutex<Slot>>,
}

impl<Fut> Stream for Genr<Fut>
where
    Fut: Future<Output = Result<(), RemoteError>> + Send,
{
    type Item = Result<Value, RemoteError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let done = body.as_mut().poll(cx);
        let mut slot = lock(&self.slot);
        if let Some(item) = slot.item.take() {
            if let Some(emitter) = slot.emitter.take() {
                // The emitter is usually this same task: waking it only costs one extra poll.
                emitter.wake();
            }
            drop(slot);
            if let Poll::Ready(Err(err)) = done {
                // Cannot happen (an emit is pending), but keep the error rather than lose it.
                self.body = None;
                return Poll::Ready(Some(Err(err)));
            }
            return Poll::Ready(Some(Ok(item)));
        }
        match done {
            Poll::Ready(res) => {
                drop(slot);
                self.body = None;
                match res {
                    Ok(()) => Poll::Ready(None),
                    Err(err) => Poll::Ready(Some(Err(err))),
                }
            }
            Poll::Pending => {
                slot.consumer = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Write a generator as an async block: `body` gets a [`Yielder`] and emits items in order.
/// Returning `Err` ends the stream with that error (the `t2:yield` error on the wire).
///
/// ```
/// use futures::StreamExt;
/// use synapse_telepath::{Value, genr};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let items: Vec<_> = genr(|y| async move {
///     for i in 0..3 {
///         y.emit(Value::from(i)).await;
///     }
///     Ok(())
/// })
/// .collect()
/// .await;
/// assert_eq!(items.len(), 3);
/// # }
/// ```
pub fn genr<F, Fut>(body: F) -> ValueStream
where
    F: FnOnce(Yielder) -> Fut,
    Fut: Future<Output = Result<(), RemoteError>> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot::default()));
    let yielder = Yielder {
        slot: Arc::clone(&slot),
    };
    Box::pin(Genr {
        body: Some(Box::pin(body(yielder))),
        slot,
    })
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn items_then_error() {
        let items: Vec<_> = genr(|y| async move {
            y.emit(1).await;
            tokio::task::yield_now().await;
            y.emit(2).await;
            Err(RemoteError::bad_arg("boom"))
        })
        .collect()
        .await;
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Ok(Value::from(1)));
        assert_eq!(items[1], Ok(Value::from(2)));
        assert_eq!(items[2].as_ref().unwrap_err().name, "BadArg");
    }

    #[tokio::test]
    async fn emitting_from_another_task() {
        let stream = genr(|y| async move {
            let task = tokio::spawn(async move {
                for i in 0..5 {
                    y.emit(i).await;
                }
            });
            task.await.map_err(|_| RemoteError::syn_err("join"))
        });
        let items: Vec<_> = stream.map(|item| item.unwrap()).collect().await;
        assert_eq!(items, (0..5).map(Value::from).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn empty() {
        let items: Vec<_> = genr(|_y| async move { Ok(()) }).collect().await;
        assert!(items.is_empty());
    }
}

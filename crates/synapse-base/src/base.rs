//! The [`Base`] handle: construction, the teardown tree, reference counts and managed tasks.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::event::Handlers;
use crate::task::Task;
use crate::util::lock;

/// The error for work offered to a [`Base`] whose teardown has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the object is fini")]
pub struct IsFini;

type FiniFn = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A handle on one node of a teardown tree. Clones share the node.
///
/// The node owns child bases, managed tasks and teardown handlers. [`Base::fini`] tears all of
/// them down, once: children first, then tasks (cancelled and awaited), then handlers in reverse
/// order of registration, and finally wakes [`Base::wait_fini`] callers.
#[derive(Clone)]
pub struct Base {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    token: CancellationToken,
    tracker: TaskTracker,
    state: Mutex<State>,
    pub(crate) handlers: Mutex<Handlers>,
    done: watch::Sender<bool>,
}

struct State {
    refs: usize,
    fini: bool,
    children: Vec<Weak<Inner>>,
    on_fini: Vec<FiniFn>,
}

impl Default for Base {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base")
            .field("fini", &self.is_fini())
            .finish_non_exhaustive()
    }
}

impl Base {
    /// A new root base holding one reference.
    pub fn new() -> Self {
        Self::with_token(CancellationToken::new(), false)
    }

    fn with_token(token: CancellationToken, fini: bool) -> Self {
        let (done, _) = watch::channel(fini);
        Self {
            inner: Arc::new(Inner {
                token,
                tracker: TaskTracker::new(),
                state: Mutex::new(State {
                    refs: 1,
                    fini,
                    children: Vec::new(),
                    on_fini: Vec::new(),
                }),
                handlers: Mutex::new(Handlers::default()),
                done,
            }),
        }
    }

    /// Construct an object asynchronously around a new base.
    ///
    /// `init` receives the base. If it fails, or the construction future is dropped before it
    /// finishes, the base is torn down (so tasks and children it started do not leak) and the
    /// error propagates unchanged.
    pub async fn anit<T, E, F, Fut>(init: F) -> Result<T, E>
    where
        F: FnOnce(Base) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let base = Base::new();
        let mut guard = AnitGuard(Some(base.clone()));
        let res = init(base.clone()).await;
        guard.0 = None;
        if res.is_err() {
            base.fini().await;
        }
        res
    }

    /// A new child owned by this base: torn down first when this base is torn down.
    ///
    /// The parent keeps only a weak reference, so a child dropped by everyone else is not kept
    /// alive. A child made after this base's teardown is born torn down.
    pub fn child(&self) -> Base {
        let state = lock(&self.inner.state);
        if state.fini {
            return Base::with_token(CancellationToken::new(), true);
        }
        let child = Base::with_token(self.inner.token.child_token(), false);
        drop(state);
        self.adopt(&child);
        child
    }

    /// Make an existing base a child of this one: it is torn down when this one is.
    ///
    /// If this base is already torn down, the other base's teardown is scheduled at once.
    pub fn adopt(&self, other: &Base) {
        let mut state = lock(&self.inner.state);
        if state.fini {
            drop(state);
            let other = other.clone();
            spawn_detached(async move {
                other.fini().await;
            });
            return;
        }
        state.children.retain(|weak| weak.strong_count() > 0);
        state.children.push(Arc::downgrade(&other.inner));
    }

    /// Register a teardown handler. Handlers run once, in reverse order of registration, after
    /// children and tasks are gone. A handler registered after teardown runs at once, on its own
    /// task.
    pub fn on_fini<F, Fut>(&self, handler: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut state = lock(&self.inner.state);
        if state.fini {
            drop(state);
            spawn_detached(handler());
            return;
        }
        state.on_fini.push(Box::new(move || handler().boxed()));
    }

    /// Take one more reference: the base is torn down only when every holder has called
    /// [`Base::fini`]. Returns the new count.
    pub fn incref(&self) -> usize {
        let mut state = lock(&self.inner.state);
        state.refs += 1;
        state.refs
    }

    /// The number of holders left (0 once torn down).
    pub fn refs(&self) -> usize {
        let state = lock(&self.inner.state);
        if state.fini { 0 } else { state.refs }
    }

    /// True once teardown has started.
    pub fn is_fini(&self) -> bool {
        lock(&self.inner.state).fini
    }

    /// A token cancelled when teardown starts cancelling tasks: hand it to code that selects on
    /// shutdown.
    pub fn token(&self) -> CancellationToken {
        self.inner.token.clone()
    }

    /// Drop one reference and, if it was the last, tear the base down.
    ///
    /// Returns the number of references left; 0 when this call tore the base down or the base
    /// was already torn down (teardown never runs twice).
    pub fn fini(&self) -> BoxFuture<'_, usize> {
        // Boxed because a teardown recurses into the children's teardown.
        async move { self.fini_inner().await }.boxed()
    }

    async fn fini_inner(&self) -> usize {
        let (children, handlers) = {
            let mut state = lock(&self.inner.state);
            if state.fini {
                return 0;
            }
            state.refs = state.refs.saturating_sub(1);
            if state.refs > 0 {
                return state.refs;
            }
            state.fini = true;
            (
                std::mem::take(&mut state.children),
                std::mem::take(&mut state.on_fini),
            )
        };
        for child in children.iter().filter_map(Weak::upgrade) {
            Base { inner: child }.fini().await;
        }
        self.inner.token.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        for handler in handlers.into_iter().rev() {
            if AssertUnwindSafe(handler()).catch_unwind().await.is_err() {
                tracing::error!("a fini handler panicked");
            }
        }
        lock(&self.inner.handlers).clear();
        self.inner.done.send_replace(true);
        0
    }

    /// Wait until teardown has finished. Returns true once torn down, false if `timeout`
    /// passed first.
    pub async fn wait_fini(&self, timeout: Option<Duration>) -> bool {
        let mut done = self.inner.done.subscribe();
        let wait = async move { done.wait_for(|fini| *fini).await.is_ok() };
        match timeout {
            None => wait.await,
            Some(limit) => tokio::time::timeout(limit, wait).await.unwrap_or(false),
        }
    }

    /// Run a future owned by this base: it is cancelled and awaited at teardown.
    ///
    /// Refused with [`IsFini`] once teardown has started, so no task can outlive its owner.
    /// Must be called from within a tokio runtime.
    pub fn spawn<F>(&self, fut: F) -> Result<Task<F::Output>, IsFini>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(self.inner.token.child_token(), fut, None)
    }

    pub(crate) fn spawn_with<F>(
        &self,
        token: CancellationToken,
        fut: F,
        on_exit: Option<Box<dyn FnOnce() + Send>>,
    ) -> Result<Task<F::Output>, IsFini>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Holding the state lock while spawning makes the check and the spawn atomic with
        // respect to `fini`, which flips `fini` under the same lock before closing the tracker.
        let state = lock(&self.inner.state);
        if state.fini {
            return Err(IsFini);
        }
        let cancel = token.clone();
        let exit = ExitGuard(on_exit);
        let handle = self.inner.tracker.spawn(async move {
            let _exit = exit;
            tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                out = fut => Some(out),
            }
        });
        drop(state);
        Ok(Task::new(handle, token))
    }

    /// Tear this base down when the process receives SIGINT or SIGTERM (the servers' main).
    ///
    /// The handlers are installed before this returns. Must be called within a tokio runtime.
    pub fn fini_on_signals(&self) -> std::io::Result<()> {
        let signals = Signals::install()?;
        let base = self.clone();
        let token = self.token();
        spawn_detached(async move {
            tokio::select! {
                () = token.cancelled() => {}
                name = signals.next() => {
                    tracing::warn!("caught {name}, shutting down");
                    base.fini().await;
                }
            }
        });
        Ok(())
    }
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Run a future on the current runtime, if there is one; teardown work must not be lost, but
/// without a runtime there is nothing to run it on.
fn spawn_detached<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(fut);
        }
        Err(_) => tracing::warn!("no runtime to run late teardown work on"),
    }
}

/// Tears a base down if `Base::anit`'s future is dropped before construction finishes.
struct AnitGuard(Option<Base>);

impl Drop for AnitGuard {
    fn drop(&mut self) {
        if let Some(base) = self.0.take() {
            spawn_detached(async move {
                base.fini().await;
            });
        }
    }
}

/// Runs a callback when a task ends, however it ends (completion, cancellation, panic).
struct ExitGuard(Option<Box<dyn FnOnce() + Send>>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if let Some(on_exit) = self.0.take() {
            on_exit();
        }
    }
}

//! Managed tasks: the [`Task`] handle and the [`TaskRegistry`] the Cell's Boss lists and kills.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::base::{Base, IsFini};
use crate::util::{guid, lock, now_ms};

/// A handle on a task owned by a [`Base`]. Dropping it does not stop the task.
#[derive(Debug)]
pub struct Task<T> {
    handle: JoinHandle<Option<T>>,
    token: CancellationToken,
}

impl<T> Task<T> {
    pub(crate) fn new(handle: JoinHandle<Option<T>>, token: CancellationToken) -> Self {
        Self { handle, token }
    }

    /// Ask the task to stop; it stops at its next await point.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// True once the task has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Wait for the task: its output, or `None` if it was cancelled or panicked.
    pub async fn join(self) -> Option<T> {
        self.handle.await.ok().flatten()
    }
}

/// What a registered task is, as the Boss shows it.
#[derive(Debug, Clone, Default)]
pub struct TaskSpec {
    /// A short name, e.g. `storm` or `axon:upload`.
    pub name: String,
    /// The iden of the user the task runs for, if any.
    pub user: Option<String>,
    /// Free-form details (e.g. the query text).
    pub info: BTreeMap<String, String>,
}

/// A registered task as listed by [`TaskRegistry::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task's iden (32 hex characters).
    pub iden: String,
    /// Its name.
    pub name: String,
    /// The user it runs for.
    pub user: Option<String>,
    /// Free-form details.
    pub info: BTreeMap<String, String>,
    /// When it started, in epoch milliseconds.
    pub tick: i64,
}

struct Entry {
    info: TaskInfo,
    token: CancellationToken,
}

/// A list of named running tasks that can be listed and cancelled by iden.
///
/// Tasks are spawned on an owning [`Base`] (so teardown still cancels them) and leave the
/// registry when they end, however they end.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    tasks: Arc<Mutex<BTreeMap<String, Entry>>>,
}

impl std::fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRegistry")
            .field("tasks", &lock(&self.tasks).len())
            .finish()
    }
}

impl TaskRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawn `fut` on `owner` and list it here until it ends. Returns the task's iden and handle.
    pub fn spawn<F>(
        &self,
        owner: &Base,
        spec: TaskSpec,
        fut: F,
    ) -> Result<(String, Task<F::Output>), IsFini>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_as(owner, guid(), spec, fut)
    }

    /// [`TaskRegistry::spawn`] with a chosen iden (the caller makes sure no running task
    /// has it).
    pub fn spawn_as<F>(
        &self,
        owner: &Base,
        iden: String,
        spec: TaskSpec,
        fut: F,
    ) -> Result<(String, Task<F::Output>), IsFini>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let token = owner.token().child_token();
        let info = TaskInfo {
            iden: iden.clone(),
            name: spec.name,
            user: spec.user,
            info: spec.info,
            tick: now_ms(),
        };
        lock(&self.tasks).insert(
            iden.clone(),
            Entry {
                info,
                token: token.clone(),
            },
        );
        let tasks = Arc::clone(&self.tasks);
        let key = iden.clone();
        let on_exit = Box::new(move || {
            lock(&tasks).remove(&key);
        });
        match owner.spawn_with(token, fut, Some(on_exit)) {
            Ok(task) => Ok((iden, task)),
            Err(err) => {
                // The exit callback was dropped unrun along with the refused future.
                lock(&self.tasks).remove(&iden);
                Err(err)
            }
        }
    }

    /// The running tasks, oldest first.
    pub fn list(&self) -> Vec<TaskInfo> {
        let mut out: Vec<TaskInfo> = lock(&self.tasks)
            .values()
            .map(|entry| entry.info.clone())
            .collect();
        out.sort_by(|a, b| a.tick.cmp(&b.tick).then_with(|| a.iden.cmp(&b.iden)));
        out
    }

    /// One running task by iden.
    pub fn get(&self, iden: &str) -> Option<TaskInfo> {
        lock(&self.tasks).get(iden).map(|entry| entry.info.clone())
    }

    /// Cancel a task by iden. Returns false if no such task is running.
    pub fn kill(&self, iden: &str) -> bool {
        match lock(&self.tasks).get(iden) {
            Some(entry) => {
                entry.token.cancel();
                true
            }
            None => false,
        }
    }
}

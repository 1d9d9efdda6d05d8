//! The Boss: the cell's registry of long-running user tasks (storm queries, uploads ...), listed
//! by `ps` and cancelled by `kill`, built on [`synapse_base::TaskRegistry`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmpv::Value;
use synapse_base::{Base, Task, TaskRegistry, TaskSpec};
use tokio::sync::watch;

use crate::error::{ErrKind, Error, Result};
use crate::value::map;

/// What a task is, given when it is started.
#[derive(Debug, Clone)]
pub struct TaskOpts {
    /// Short name, e.g. `storm`.
    pub name: String,
    /// Iden of the user the task runs for.
    pub user: String,
    /// Name of that user.
    pub username: String,
    /// Task details (e.g. `{"query": ...}`).
    pub info: Value,
    /// Protected tasks cannot be killed by `kill`.
    pub protected: bool,
    /// Background tasks are not waited for at shutdown.
    pub background: bool,
}

impl TaskOpts {
    /// Options for a task named `name` run by a user.
    pub fn new(name: &str, user: &str, username: &str) -> Self {
        Self {
            name: name.to_string(),
            user: user.to_string(),
            username: username.to_string(),
            info: Value::Map(Vec::new()),
            protected: false,
            background: false,
        }
    }

    /// Set the info.
    #[must_use]
    pub fn info(mut self, info: Value) -> Self {
        self.info = info;
        self
    }
}

/// A running task as the Boss lists it.
#[derive(Debug, Clone)]
pub struct BossTask {
    /// The task iden.
    pub iden: String,
    /// Start time (epoch ms).
    pub tick: i64,
    /// What it is.
    pub opts: TaskOpts,
}

impl BossTask {
    /// The reference's `Task.pack()` (from `ps`): `user` is the user **name**.
    pub fn pack(&self) -> Value {
        map([
            ("iden", Value::from(self.iden.as_str())),
            ("name", Value::from(self.opts.name.as_str())),
            ("info", self.opts.info.clone()),
            ("tick", Value::from(self.tick)),
            ("user", Value::from(self.opts.username.as_str())),
            ("kids", Value::Map(Vec::new())),
        ])
    }

    /// The reference's `Task.packv2()` (from `getTasks`): `user` is the user **iden**.
    pub fn pack_v2(&self) -> Value {
        map([
            ("iden", Value::from(self.iden.as_str())),
            ("name", Value::from(self.opts.name.as_str())),
            ("info", self.opts.info.clone()),
            ("tick", Value::from(self.tick)),
            ("user", Value::from(self.opts.user.as_str())),
            ("username", Value::from(self.opts.username.as_str())),
            ("protected", Value::Boolean(self.opts.protected)),
            ("background", Value::Boolean(self.opts.background)),
            ("kids", Value::Map(Vec::new())),
        ])
    }
}

struct Extra {
    opts: TaskOpts,
    done: watch::Receiver<bool>,
}

struct DoneGuard(watch::Sender<bool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// The registry of running user tasks. Cheap to clone.
#[derive(Clone)]
pub struct Boss {
    base: Base,
    registry: TaskRegistry,
    extras: Arc<Mutex<HashMap<String, Extra>>>,
    shut: Arc<AtomicBool>,
}

impl std::fmt::Debug for Boss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Boss")
            .field("registry", &self.registry)
            .finish()
    }
}

impl Boss {
    /// A Boss whose tasks are owned by `base` (torn down with it).
    pub fn new(base: &Base) -> Self {
        Self {
            base: base.clone(),
            registry: TaskRegistry::new(),
            extras: Arc::default(),
            shut: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Extra>> {
        self.extras.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuse new work once shutdown started (`ShuttingDown`).
    pub fn req_not_shut(&self) -> Result<()> {
        if self.shut.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrKind::ShuttingDown,
                "The service is shutting down.",
            ));
        }
        Ok(())
    }

    /// Run `fut` as a listed task. Returns its iden and handle.
    pub fn spawn<F>(&self, opts: TaskOpts, fut: F) -> Result<(String, Task<F::Output>)>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_as(None, opts, fut)
    }

    /// Run `fut` as a listed task with the iden the caller chose (the reference's `taskiden`):
    /// `BadArg` unless it is 32 lowercase hex characters and no running task has it.
    pub fn spawn_as<F>(
        &self,
        iden: Option<String>,
        opts: TaskOpts,
        fut: F,
    ) -> Result<(String, Task<F::Output>)>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.req_not_shut()?;
        if let Some(iden) = &iden {
            let isguid = iden.len() == 32
                && iden
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !isguid {
                return Err(Error::new(
                    ErrKind::BadArg,
                    "The task iden specified must match the regular expression: ^[a-f0-9]{32}$",
                ));
            }
            if self.registry.get(iden).is_some() {
                return Err(
                    Error::new(ErrKind::BadArg, "Specified task iden already exists!")
                        .with("iden", iden.as_str()),
                );
            }
        }
        let (tx, rx) = watch::channel(false);
        let guard = DoneGuard(tx);
        let wrapped = async move {
            let _guard = guard;
            fut.await
        };
        let spec = TaskSpec {
            name: opts.name.clone(),
            user: Some(opts.user.clone()),
            info: Default::default(),
        };
        let iden = iden.unwrap_or_else(synapse_base::guid);
        let (iden, task) = self
            .registry
            .spawn_as(&self.base, iden, spec, wrapped)
            .map_err(|_| Error::new(ErrKind::IsFini, "The service is shut down."))?;
        let registry = self.registry.clone();
        let mut extras = self.lock();
        extras.retain(|key, _| registry.get(key).is_some());
        if registry.get(&iden).is_some() {
            extras.insert(iden.clone(), Extra { opts, done: rx });
        }
        Ok((iden, task))
    }

    /// The running tasks, oldest first.
    pub fn ps(&self) -> Vec<BossTask> {
        let extras = self.lock();
        self.registry
            .list()
            .into_iter()
            .filter_map(|info| {
                let extra = extras.get(&info.iden)?;
                Some(BossTask {
                    iden: info.iden,
                    tick: info.tick,
                    opts: extra.opts.clone(),
                })
            })
            .collect()
    }

    /// One running task.
    pub fn get(&self, iden: &str) -> Option<BossTask> {
        let info = self.registry.get(iden)?;
        let extras = self.lock();
        let extra = extras.get(iden)?;
        Some(BossTask {
            iden: info.iden,
            tick: info.tick,
            opts: extra.opts.clone(),
        })
    }

    /// Cancel a task and wait for it to end. `false` if there is no such task; protected
    /// tasks are refused (`SynErr "Task <name> is protected."`).
    pub async fn kill(&self, iden: &str) -> Result<bool> {
        let Some(mut done) = ({
            let extras = self.lock();
            match extras.get(iden) {
                Some(extra) if extra.opts.protected => {
                    return Err(Error::new(
                        ErrKind::SynErr,
                        format!("Task {} is protected.", extra.opts.name),
                    )
                    .with("iden", iden));
                }
                Some(extra) => Some(extra.done.clone()),
                None => None,
            }
        }) else {
            return Ok(false);
        };
        if !self.registry.kill(iden) {
            return Ok(false);
        }
        let _ = done.wait_for(|d| *d).await;
        Ok(true)
    }

    /// Graceful shutdown: refuse new tasks, then wait for the top-level non-background tasks
    /// (or cancel them first when `drain` is false). False if `timeout` ran out.
    pub async fn shutdown(&self, timeout: Option<Duration>, drain: bool) -> bool {
        self.shut.store(true, Ordering::SeqCst);
        let waits: Vec<(String, watch::Receiver<bool>)> = self
            .lock()
            .iter()
            .filter(|(_, extra)| !extra.opts.background)
            .map(|(iden, extra)| (iden.clone(), extra.done.clone()))
            .collect();
        if !drain {
            for (iden, _) in &waits {
                self.registry.kill(iden);
            }
        }
        let all = async {
            for (_, mut done) in waits {
                let _ = done.wait_for(|d| *d).await;
            }
        };
        match timeout {
            None => {
                all.await;
                true
            }
            Some(limit) => tokio::time::timeout(limit, all).await.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ps_and_kill() {
        let base = Base::new();
        let boss = Boss::new(&base);
        let opts = TaskOpts::new("storm", &"u".repeat(32), "visi")
            .info(map([("query", Value::from("inet:fqdn"))]));
        let (iden, task) = boss.spawn(opts, std::future::pending::<()>()).unwrap();
        let tasks = boss.ps();
        assert_eq!(tasks.len(), 1);
        let packed = crate::value::to_json(&tasks[0].pack());
        assert_eq!(packed["user"], "visi");
        assert_eq!(packed["name"], "storm");
        assert_eq!(packed["info"]["query"], "inet:fqdn");
        assert_eq!(
            crate::value::to_json(&tasks[0].pack_v2())["user"],
            "u".repeat(32)
        );
        assert!(boss.kill(&iden).await.unwrap());
        assert!(task.join().await.is_none());
        assert!(boss.ps().is_empty());
        assert!(!boss.kill(&iden).await.unwrap());
        base.fini().await;
    }

    #[tokio::test]
    async fn finished_tasks_leave_and_protected_ones_stay() {
        let base = Base::new();
        let boss = Boss::new(&base);
        let (_, task) = boss
            .spawn(TaskOpts::new("quick", "u", "visi"), async { 5 })
            .unwrap();
        assert_eq!(task.join().await, Some(5));
        assert!(boss.ps().is_empty());
        let mut opts = TaskOpts::new("guarded", "u", "visi");
        opts.protected = true;
        let (iden, _task) = boss.spawn(opts, std::future::pending::<()>()).unwrap();
        let err = boss.kill(&iden).await.unwrap_err();
        assert_eq!(err.mesg(), "Task guarded is protected.");
        assert!(!boss.shutdown(Some(Duration::from_millis(20)), true).await);
        assert_eq!(
            boss.spawn(TaskOpts::new("late", "u", "v"), async {})
                .unwrap_err()
                .kind(),
            ErrKind::ShuttingDown
        );
        assert!(boss.shutdown(None, false).await);
        base.fini().await;
    }
}

//! Managed tasks: ownership, cancellation at teardown, races with teardown, the registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use synapse_base::{Base, IsFini, TaskRegistry, TaskSpec};

#[tokio::test]
async fn task_output_is_returned() {
    let base = Base::new();
    let task = base.spawn(async { 40 + 2 }).unwrap();
    assert_eq!(task.join().await, Some(42));
    base.fini().await;
}

#[tokio::test]
async fn fini_cancels_and_awaits_tasks() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let base = Base::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = Flag(dropped.clone());
    let task = base
        .spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        })
        .unwrap();
    assert!(!task.is_finished());
    base.fini().await;
    // fini awaited the task: its future is already gone when fini returns.
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(task.join().await, None);
}

#[tokio::test]
async fn spawn_after_fini_is_refused_and_never_runs() {
    let base = Base::new();
    base.fini().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let res = base.spawn(async move {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(res.err(), Some(IsFini));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_started_during_fini_survives_it() {
    // Hammer spawn from other threads while fini runs: every task that was accepted must be
    // finished (cancelled or done) once fini returns, and every refused one never runs.
    for _ in 0..50 {
        let base = Base::new();
        let live = Arc::new(AtomicUsize::new(0));
        let spawners: Vec<_> = (0..4)
            .map(|_| {
                let base = base.clone();
                let live = live.clone();
                tokio::spawn(async move {
                    let mut accepted = Vec::new();
                    for _ in 0..200 {
                        let live = live.clone();
                        match base.spawn(async move {
                            live.fetch_add(1, Ordering::SeqCst);
                            struct Dec(Arc<AtomicUsize>);
                            impl Drop for Dec {
                                fn drop(&mut self) {
                                    self.0.fetch_sub(1, Ordering::SeqCst);
                                }
                            }
                            let _dec = Dec(live);
                            std::future::pending::<()>().await;
                        }) {
                            Ok(task) => accepted.push(task),
                            Err(IsFini) => break,
                        }
                        tokio::task::yield_now().await;
                    }
                    accepted
                })
            })
            .collect();
        tokio::task::yield_now().await;
        base.fini().await;
        // Everything accepted before or during fini is already finished.
        assert_eq!(live.load(Ordering::SeqCst), 0);
        for spawner in spawners {
            for task in spawner.await.unwrap() {
                assert_eq!(task.join().await, None);
            }
        }
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn cancel_one_task() {
    let base = Base::new();
    let task = base.spawn(std::future::pending::<()>()).unwrap();
    task.cancel();
    assert_eq!(task.join().await, None);
    assert!(!base.is_fini());
    base.fini().await;
}

#[tokio::test]
async fn child_tasks_cancelled_with_parent() {
    let root = Base::new();
    let child = root.child();
    let task = child.spawn(std::future::pending::<()>()).unwrap();
    root.fini().await;
    assert!(child.is_fini());
    assert_eq!(task.join().await, None);
}

#[tokio::test]
async fn registry_lists_and_kills() {
    let base = Base::new();
    let boss = TaskRegistry::new();
    let before = synapse_base::now_ms();
    let spec = TaskSpec {
        name: "storm".into(),
        user: Some("root-iden".into()),
        info: [("query".to_owned(), "inet:ipv4".to_owned())].into(),
    };
    let (iden, task) = boss
        .spawn(&base, spec, std::future::pending::<()>())
        .unwrap();
    let (_, quick) = boss.spawn(&base, TaskSpec::default(), async { 7 }).unwrap();
    assert_eq!(quick.join().await, Some(7));

    let listed = boss.list();
    assert_eq!(listed.len(), 1, "finished tasks leave the registry");
    let info = &listed[0];
    assert_eq!(info.iden, iden);
    assert_eq!(info.name, "storm");
    assert_eq!(info.user.as_deref(), Some("root-iden"));
    assert_eq!(info.info["query"], "inet:ipv4");
    assert!(info.tick >= before);
    assert_eq!(boss.get(&iden).as_ref(), Some(info));

    assert!(boss.kill(&iden));
    assert_eq!(task.join().await, None);
    assert!(boss.list().is_empty());
    assert!(!boss.kill(&iden));
    base.fini().await;
}

#[tokio::test]
async fn registry_tasks_end_with_their_owner() {
    let base = Base::new();
    let boss = TaskRegistry::new();
    let (_, task) = boss
        .spawn(&base, TaskSpec::default(), std::future::pending::<()>())
        .unwrap();
    base.fini().await;
    assert!(boss.list().is_empty());
    assert_eq!(task.join().await, None);
    assert_eq!(
        boss.spawn(&base, TaskSpec::default(), async {}).err(),
        Some(IsFini)
    );
    assert!(boss.list().is_empty());
}

#[tokio::test]
async fn registry_entry_removed_when_task_panics() {
    let base = Base::new();
    let boss = TaskRegistry::new();
    let (_, task) = boss
        .spawn(&base, TaskSpec::default(), async { panic!("task failure") })
        .unwrap();
    assert_eq!(task.join().await, None::<()>);
    assert!(boss.list().is_empty());
    base.fini().await;
}

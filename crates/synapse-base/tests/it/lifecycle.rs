//! Construction, teardown order, reference counts and the teardown tree.

use std::time::Duration;

use synapse_base::{Base, IsFini};

use crate::Log;

#[tokio::test]
async fn fini_runs_handlers_once_in_reverse_order() {
    let base = Base::new();
    let log = Log::default();
    for name in ["first", "second", "third"] {
        let log = log.clone();
        base.on_fini(move || async move { log.push(name) });
    }
    assert_eq!(base.fini().await, 0);
    assert_eq!(log.take(), ["third", "second", "first"]);
    assert!(base.is_fini());

    // A second fini runs nothing again.
    assert_eq!(base.fini().await, 0);
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn children_go_first_then_tasks_then_handlers() {
    let base = Base::new();
    let log = Log::default();

    let child = base.child();
    let child_log = log.clone();
    child.on_fini(move || async move { child_log.push("child") });

    let task_log = log.clone();
    let (started, running) = tokio::sync::oneshot::channel();
    base.spawn(async move {
        struct Cancelled(Log);
        impl Drop for Cancelled {
            fn drop(&mut self) {
                self.0.push("task-cancelled");
            }
        }
        let _guard = Cancelled(task_log);
        let _ = started.send(());
        std::future::pending::<()>().await;
    })
    .unwrap();
    running.await.unwrap();

    let own_log = log.clone();
    base.on_fini(move || async move { own_log.push("own") });

    base.fini().await;
    assert_eq!(log.take(), ["child", "task-cancelled", "own"]);
    assert!(child.is_fini());
}

#[tokio::test]
async fn grandchildren_are_torn_down_depth_first() {
    let root = Base::new();
    let log = Log::default();
    let mid = root.child();
    let leaf = mid.child();
    for (base, name) in [(&root, "root"), (&mid, "mid"), (&leaf, "leaf")] {
        let log = log.clone();
        base.on_fini(move || async move { log.push(name) });
    }
    root.fini().await;
    assert_eq!(log.take(), ["leaf", "mid", "root"]);
}

#[tokio::test]
async fn a_child_fini_does_not_touch_the_parent() {
    let root = Base::new();
    let child = root.child();
    child.fini().await;
    assert!(child.is_fini());
    assert!(!root.is_fini());
    root.fini().await;
}

#[tokio::test]
async fn parent_holds_children_weakly() {
    let root = Base::new();
    let log = Log::default();
    {
        let child = root.child();
        let log = log.clone();
        child.on_fini(move || async move { log.push("dropped child") });
    }
    // The child was dropped by everyone: the parent does not keep it alive, so its
    // handlers are gone with it and teardown of the parent does not run them.
    root.fini().await;
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn refcount_last_holder_tears_down() {
    let base = Base::new();
    let log = Log::default();
    let handler_log = log.clone();
    base.on_fini(move || async move { handler_log.push("fini") });

    assert_eq!(base.incref(), 2);
    assert_eq!(base.refs(), 2);
    assert_eq!(base.fini().await, 1);
    assert!(!base.is_fini());
    assert!(log.take().is_empty());

    assert_eq!(base.fini().await, 0);
    assert!(base.is_fini());
    assert_eq!(log.take(), ["fini"]);
    assert_eq!(base.refs(), 0);
}

#[tokio::test]
async fn on_fini_after_fini_runs_soon() {
    let base = Base::new();
    base.fini().await;
    let (send, recv) = tokio::sync::oneshot::channel();
    base.on_fini(move || async move {
        let _ = send.send(());
    });
    tokio::time::timeout(Duration::from_secs(5), recv)
        .await
        .expect("late handler ran")
        .unwrap();
}

#[tokio::test]
async fn adopt_after_fini_tears_the_other_down() {
    let base = Base::new();
    base.fini().await;
    let other = Base::new();
    base.adopt(&other);
    assert!(other.wait_fini(Some(Duration::from_secs(5))).await);
}

#[tokio::test]
async fn child_of_fini_parent_is_born_fini() {
    let base = Base::new();
    base.fini().await;
    let child = base.child();
    assert!(child.is_fini());
    assert_eq!(child.spawn(async {}).err(), Some(IsFini));
}

#[tokio::test]
async fn wait_fini_times_out_then_sees_fini() {
    let base = Base::new();
    assert!(!base.wait_fini(Some(Duration::from_millis(20))).await);

    let waiter = base.clone();
    let waiting = tokio::spawn(async move { waiter.wait_fini(None).await });
    tokio::task::yield_now().await;
    base.fini().await;
    assert!(waiting.await.unwrap());

    // Already fini: returns at once.
    assert!(base.wait_fini(Some(Duration::from_millis(1))).await);
}

#[tokio::test]
async fn wait_fini_waits_for_handlers_to_finish() {
    let base = Base::new();
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    base.on_fini(move || async move {
        let _ = hold.await;
    });
    let finisher = base.clone();
    let fini = tokio::spawn(async move { finisher.fini().await });
    tokio::task::yield_now().await;
    // Teardown has started but a handler still runs: not done yet.
    assert!(base.is_fini());
    assert!(!base.wait_fini(Some(Duration::from_millis(20))).await);
    release.send(()).unwrap();
    assert!(base.wait_fini(Some(Duration::from_secs(5))).await);
    fini.await.unwrap();
}

#[tokio::test]
async fn anit_failure_tears_the_base_down() {
    let log = Log::default();
    let init_log = log.clone();
    let kept = std::sync::Arc::new(std::sync::Mutex::new(None));
    let kept_in = kept.clone();
    let res: Result<(), &str> = Base::anit(|base| async move {
        let handler_log = init_log.clone();
        base.on_fini(move || async move { handler_log.push("cleaned") });
        base.spawn(std::future::pending::<()>()).unwrap();
        *kept_in.lock().unwrap() = Some(base);
        Err("boom")
    })
    .await;
    assert_eq!(res, Err("boom"));
    assert_eq!(log.take(), ["cleaned"]);
    let base = kept.lock().unwrap().take().unwrap();
    assert!(base.is_fini());
}

#[tokio::test]
async fn anit_success_keeps_the_base() {
    let base = Base::anit(|base| async move { Ok::<_, ()>(base) })
        .await
        .unwrap();
    assert!(!base.is_fini());
    base.fini().await;
}

#[tokio::test]
async fn anit_dropped_midway_tears_the_base_down() {
    let (send, recv) = tokio::sync::oneshot::channel();
    let construct = Base::anit(|base| async move {
        base.on_fini(move || async move {
            let _ = send.send(());
        });
        std::future::pending::<Result<(), ()>>().await
    });
    // Give the construction a chance to start, then drop it.
    let _ = tokio::time::timeout(Duration::from_millis(10), construct).await;
    tokio::time::timeout(Duration::from_secs(5), recv)
        .await
        .expect("teardown of the abandoned base")
        .unwrap();
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_others() {
    let base = Base::new();
    let log = Log::default();
    let first = log.clone();
    base.on_fini(move || async move { first.push("first") });
    base.on_fini(|| async { panic!("handler failure") });
    base.fini().await;
    assert_eq!(log.take(), ["first"]);
    assert!(base.wait_fini(Some(Duration::from_secs(1))).await);
}

#[tokio::test]
async fn token_is_cancelled_by_fini() {
    let base = Base::new();
    let token = base.token();
    assert!(!token.is_cancelled());
    base.fini().await;
    assert!(token.is_cancelled());
}

#[tokio::test]
async fn concurrent_fini_calls_tear_down_once() {
    let base = Base::new();
    let log = Log::default();
    let handler_log = log.clone();
    base.on_fini(move || async move {
        tokio::task::yield_now().await;
        handler_log.push("fini");
    });
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move { base.fini().await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 0);
    }
    assert!(base.wait_fini(Some(Duration::from_secs(5))).await);
    assert_eq!(log.take(), ["fini"]);
}

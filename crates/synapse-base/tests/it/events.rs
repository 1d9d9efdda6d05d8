//! The event bus: handlers, links, fire/dist, waiters.

use std::sync::Mutex;
use std::time::Duration;

use synapse_base::{Base, Event};

use crate::Log;

#[tokio::test]
async fn handlers_run_in_registration_order_then_links() {
    let base = Base::new();
    let log = Log::default();
    for name in ["a", "b"] {
        let log = log.clone();
        base.on("evt", move |_| {
            let log = log.clone();
            async move { log.push(name) }
        });
    }
    let link_log = log.clone();
    base.link(move |event| {
        let log = link_log.clone();
        async move { log.push(format!("link:{}", event.name())) }
    });
    assert_eq!(base.dist(Event::new("evt", ())).await, 3);
    assert_eq!(log.take(), ["a", "b", "link:evt"]);

    // Other names reach only the links.
    assert_eq!(base.dist(Event::new("other", ())).await, 1);
    assert_eq!(log.take(), ["link:other"]);
    base.fini().await;
}

#[tokio::test]
async fn fire_returns_the_event_with_handler_changes() {
    let base = Base::new();
    base.on("ask", |event| async move {
        if let Some(slot) = event.info::<Mutex<i64>>() {
            *slot.lock().unwrap() = 42;
        }
    });
    let event = base.fire("ask", Mutex::new(0_i64)).await;
    assert_eq!(event.name(), "ask");
    assert_eq!(*event.info::<Mutex<i64>>().unwrap().lock().unwrap(), 42);
    assert!(event.info::<String>().is_none());
    base.fini().await;
}

#[tokio::test]
async fn off_removes_a_handler() {
    let base = Base::new();
    let log = Log::default();
    let handler_log = log.clone();
    let id = base.on("evt", move |_| {
        let log = handler_log.clone();
        async move { log.push("called") }
    });
    base.fire("evt", ()).await;
    base.off("evt", id);
    base.off("evt", id); // unknown ids are ignored
    base.off("nothing", id);
    base.fire("evt", ()).await;
    assert_eq!(log.take(), ["called"]);
    base.fini().await;
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_dist() {
    let base = Base::new();
    let log = Log::default();
    base.on("evt", |_| async { panic!("handler failure") });
    let handler_log = log.clone();
    base.on("evt", move |_| {
        let log = handler_log.clone();
        async move { log.push("second") }
    });
    assert_eq!(base.dist(Event::new("evt", ())).await, 2);
    assert_eq!(log.take(), ["second"]);
    base.fini().await;
}

#[tokio::test]
async fn nothing_is_dispatched_after_fini() {
    let base = Base::new();
    let log = Log::default();
    let handler_log = log.clone();
    base.on("evt", move |_| {
        let log = handler_log.clone();
        async move { log.push("called") }
    });
    base.fini().await;
    let event = base.fire("evt", 5_u8).await;
    assert_eq!(event.info::<u8>(), Some(&5));
    assert_eq!(base.dist(Event::new("evt", ())).await, 0);
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn link_to_forwards_every_event_and_unlink_stops_it() {
    let source = Base::new();
    let sink = Base::new();
    let log = Log::default();
    let sink_log = log.clone();
    sink.on("evt", move |event| {
        let log = sink_log.clone();
        async move { log.push(format!("sink got {}", event.name())) }
    });
    let id = source.link_to(&sink);
    source.fire("evt", ()).await;
    source.unlink(id);
    source.fire("evt", ()).await;
    assert_eq!(log.take(), ["sink got evt"]);
    source.fini().await;
    sink.fini().await;
}

#[tokio::test]
async fn on_until_removes_the_handler_when_the_other_base_finis() {
    let base = Base::new();
    let scope = Base::new();
    let log = Log::default();
    let handler_log = log.clone();
    base.on_until(
        "evt",
        move |_| {
            let log = handler_log.clone();
            async move { log.push("called") }
        },
        &scope,
    );
    base.fire("evt", ()).await;
    scope.fini().await;
    base.fire("evt", ()).await;
    assert_eq!(log.take(), ["called"]);
    base.fini().await;
}

#[tokio::test]
async fn waiter_counts_named_events() {
    let base = Base::new();
    let waiter = base.waiter(2, &["hehe"]);
    base.fire("haha", ()).await;
    base.fire("hehe", 1_u8).await;
    base.fire("hehe", 2_u8).await;
    let events = waiter.wait(Some(Duration::from_secs(5))).await.unwrap();
    let infos: Vec<u8> = events.iter().map(|e| *e.info::<u8>().unwrap()).collect();
    assert_eq!(infos, [1, 2]);
    base.fini().await;
}

#[tokio::test]
async fn waiter_without_names_counts_every_event() {
    let base = Base::new();
    let waiter = base.waiter(3, &[]);
    for name in ["a", "b", "c"] {
        base.fire(name, ()).await;
    }
    let events = waiter.wait(Some(Duration::from_secs(5))).await.unwrap();
    let names: Vec<&str> = events.iter().map(Event::name).collect();
    assert_eq!(names, ["a", "b", "c"]);
    base.fini().await;
}

#[tokio::test]
async fn waiter_times_out_with_none_and_expect_names_the_events() {
    let base = Base::new();
    let waiter = base.waiter(2, &["x", "y"]);
    base.fire("x", ()).await;
    assert!(waiter.wait(Some(Duration::from_millis(20))).await.is_none());

    let err = base
        .waiter(1, &["x", "y"])
        .expect(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "timeout waiting for 1 event(s): x,y");
    base.fini().await;
}

#[tokio::test]
async fn waiter_does_not_see_past_events_and_unregisters() {
    let base = Base::new();
    base.fire("evt", ()).await;
    let waiter = base.waiter(1, &["evt"]);
    assert!(waiter.wait(Some(Duration::from_millis(20))).await.is_none());
    // The waiter is gone: firing now reaches no handler.
    assert_eq!(base.dist(Event::new("evt", ())).await, 0);
    base.fini().await;
}

//! Behaviour of the view, layer, merge and uptime commands that the recorded corpus (run as
//! root, with random idens) cannot show: permission checks and time-dependent output.

use std::sync::Arc;

use synapse_cortex::storm::runtime::{Message, StormUser};

use super::util::{Core, msgpack_to_json, outcome};

/// A non-admin user allowed only the permissions that start with one of `allow`.
fn user(allow: &'static [&'static str]) -> StormUser {
    StormUser {
        iden: "99999999999999999999999999999999".into(),
        name: "visi".into(),
        admin: false,
        check: Arc::new(move |perm: &[&str], _gate: Option<&str>| {
            let text = perm.join(".");
            allow
                .iter()
                .any(|a| text == *a || text.starts_with(&format!("{a}.")))
        }),
    }
}

fn err_of(mesgs: &[Message]) -> Option<(String, String)> {
    mesgs.iter().find(|m| m.kind == "err").map(|m| {
        let info = msgpack_to_json(&m.info);
        (
            info[0].as_str().unwrap_or_default().to_owned(),
            info[1]["mesg"].as_str().unwrap_or_default().to_owned(),
        )
    })
}

fn prints(mesgs: &[Message]) -> Vec<String> {
    outcome(mesgs)
        .mesgs
        .iter()
        .filter(|m| m[0] == "print")
        .map(|m| m[1].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_fork_needs_view_add() {
    let core = Core::new().await;
    let opts = serde_json::json!({});
    let out = core
        .storm_as(
            user(&["view.read"]),
            "view.fork $lib.view.get().iden",
            &opts,
        )
        .await;
    let (name, mesg) = err_of(&out).expect("an error");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("must have permission view.add"), "{mesg}");
    // with the permissions the fork is made
    let out = core
        .storm_as(
            user(&["view.read", "view.add", "view.fork"]),
            "view.fork $lib.view.get().iden",
            &opts,
        )
        .await;
    assert_eq!(err_of(&out), None);
    let lines = prints(&out);
    assert!(
        lines[0].contains("Creator: 99999999999999999999999999999999"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("View ") && lines[1].contains(" forked to new view: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_get_needs_view_read() {
    let core = Core::new().await;
    let out = core
        .storm_as(user(&[]), "view.get", &serde_json::json!({}))
        .await;
    let (name, mesg) = err_of(&out).expect("an error");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("view.read"), "{mesg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_apply_checks_layer_perms_for_non_admins() {
    let core = Core::new().await;
    let opts = serde_json::json!({});
    let fork = core
        .call(
            "$f=$lib.view.get().fork() view.exec $f.iden { [ inet:ipv4=3.3.3.4 +#foo ] } return($f.iden)",
            &opts,
        )
        .await
        .expect("fork iden");
    let vopts = serde_json::json!({"view": fork});
    // a user who may read but not edit gets AuthDeny, and nothing is merged
    let out = core
        .storm_as(
            user(&["view.read", "node.del"]),
            "diff | merge --apply",
            &vopts,
        )
        .await;
    let (name, mesg) = err_of(&out).expect("an error");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("must have permission node.add."), "{mesg}");
    let out = core.storm("inet:ipv4=3.3.3.4", &opts).await;
    assert!(outcome(&out).nodes.is_empty());
    // with the edit permissions of both layers the merge goes through
    let out = core
        .storm_as(user(&["view.read", "node"]), "diff | merge --apply", &vopts)
        .await;
    assert_eq!(err_of(&out), None);
    let out = core.storm("inet:ipv4=3.3.3.4", &opts).await;
    assert_eq!(outcome(&out).nodes.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_merge_without_delete_needs_admin() {
    let core = Core::new().await;
    let opts = serde_json::json!({});
    let fork = core
        .call("return($lib.view.get().fork().iden)", &opts)
        .await
        .expect("fork iden");
    let q = format!("view.merge {}", fork.as_str().unwrap_or_default());
    let out = core.storm_as(user(&["view.read", "node"]), &q, &opts).await;
    assert_eq!(err_of(&out).map(|e| e.0), Some("AuthDeny".to_owned()));
    let out = core.storm(&q, &opts).await;
    assert_eq!(err_of(&out), None);
    assert_eq!(
        prints(&out),
        vec![format!(
            "View merged: {}",
            fork.as_str().unwrap_or_default()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uptime_prints_duration_and_start() {
    let core = Core::new().await;
    let out = core.storm("uptime", &serde_json::json!({})).await;
    let lines = prints(&out);
    let re = regex::Regex::new(
        r"^up (\d+D )?\d\d:\d\d:\d\d\.\d{3} \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$",
    )
    .expect("regex");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(re.is_match(&lines[0]), "{}", lines[0]);
    let out = core.storm("uptime nope", &serde_json::json!({})).await;
    assert_eq!(err_of(&out).map(|e| e.0), Some("NoSuchName".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_views_and_layers_have_the_reference_messages() {
    let core = Core::new().await;
    let opts = serde_json::json!({});
    let out = core.storm("view.get nope", &opts).await;
    assert_eq!(
        err_of(&out),
        Some((
            "NoSuchView".to_owned(),
            "No view with iden='nope'".to_owned()
        ))
    );
    let out = core.storm("view.exec nope { }", &opts).await;
    assert_eq!(
        err_of(&out),
        Some(("NoSuchView".to_owned(), "No such view iden=nope".to_owned()))
    );
    let out = core.storm("layer.get nope", &opts).await;
    assert_eq!(
        err_of(&out),
        Some((
            "NoSuchIden".to_owned(),
            "No layer with iden: nope".to_owned()
        ))
    );
    let out = core.storm("diff", &opts).await;
    assert_eq!(
        err_of(&out),
        Some((
            "StormRuntimeError".to_owned(),
            "You may only generate a diff in a forked view.".to_owned()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lib_log_needs_its_level_permission_and_a_dict_extra() {
    let core = Core::new().await;
    let opts = serde_json::json!({});
    let query = "$x = $lib.log.info(hello, extra=({\"a\": 1})) $lib.print($x)";
    let out = core
        .storm_as(user(&["view.read", "storm.lib.log.info"]), query, &opts)
        .await;
    assert_eq!(err_of(&out), None);
    assert_eq!(prints(&out), vec!["$lib.null".to_owned()]);
    // another level needs its own permission
    let out = core
        .storm_as(
            user(&["view.read", "storm.lib.log.info"]),
            "$lib.log.error(oops)",
            &opts,
        )
        .await;
    let (name, mesg) = err_of(&out).expect("an error");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("storm.lib.log.error"), "{mesg}");
    // extra must be a dict
    let out = core
        .storm_as(
            user(&["view.read", "storm.lib.log"]),
            "$lib.log.warning(oops, extra=(1, 2))",
            &opts,
        )
        .await;
    let (name, mesg) = err_of(&out).expect("an error");
    assert_eq!(name, "BadArg");
    assert_eq!(
        mesg,
        "extra provided to log call must be a dictionary compatible type. Got tuple instead."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_a_query_object_shows_its_type_and_text() {
    let core = Core::new().await;
    let out = core
        .storm("$lib.print(${ inet:ipv4 })", &serde_json::json!({}))
        .await;
    // the reference 2.256 prints `storm:query: " inet:ipv4 "`
    assert_eq!(
        prints(&out),
        vec!["storm:query: \" inet:ipv4 \"".to_owned()]
    );
}

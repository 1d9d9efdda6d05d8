//! The flow and generator commands (`batch`, `parallel`, `background`, `storm.exec`,
//! `copyto`, `colorize`, `gen.*`, `$lib.gen`) and how `$lib.print` shows nested values,
//! replayed against what the reference produced (recorded_flow.json, from
//! gen_recorded_flow.py), plus what a recording cannot show: permissions, `.created`, and a
//! background query finishing after its caller.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use synapse_cortex::storm::runtime::{Message, StormUser};

use super::util::{Core, msgpack_to_json, replay_recorded};

/// The comparable part of a message, as the recorder writes it.
fn canon(kind: &str, info: &Json) -> Option<Json> {
    match kind {
        "node" => {
            let form = info[0][0].clone();
            let valu = info[0][1].clone();
            let inf = &info[1];
            let mut props = inf["props"].as_object().cloned().unwrap_or_default();
            props.remove(".created");
            let mut tags: Vec<String> = inf["tags"]
                .as_object()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            tags.sort();
            Some(json!(["node", form, valu, Json::Object(props), tags]))
        }
        "print" | "warn" => Some(json!([kind, mask(&info["mesg"])])),
        "err" => Some(json!(["err", info[0], mask(&info[1]["mesg"])])),
        _ => None,
    }
}

/// Random view and layer idens (32 hex digits) and times (`.created`) masked, as the
/// recorder masks them.
fn mask(text: &Json) -> Json {
    let Some(text) = text.as_str() else {
        return text.clone();
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut idx = 0;
    while idx < chars.len() {
        let hexrun = chars[idx..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || ('a'..='f').contains(*c))
            .count();
        if hexrun == 32 {
            out.push_str("<iden>");
            idx += hexrun;
            continue;
        }
        if is_time(&chars[idx..]) {
            out.push_str("<time>");
            idx += 23;
            continue;
        }
        let step = hexrun.max(1);
        out.extend(&chars[idx..idx + step]);
        idx += step;
    }
    Json::from(out)
}

/// Whether text starts with a time as the reference shows it: `2026/11/26 00:03:33.393`.
fn is_time(chars: &[char]) -> bool {
    let shape = "dddd/dd/dd dd:dd:dd.ddd";
    chars.len() >= shape.len()
        && shape.chars().zip(chars).all(|(s, c)| match s {
            'd' => c.is_ascii_digit(),
            other => other == *c,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_and_gen_commands_match_the_reference() {
    let recorded: Json =
        serde_json::from_str(include_str!("recorded_flow.json")).expect("recorded_flow.json");
    replay_recorded(&recorded, 100, canon).await;
}

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

fn nodes(mesgs: &[Message]) -> Vec<Json> {
    mesgs
        .iter()
        .filter(|m| m.kind == "node")
        .map(|m| msgpack_to_json(&m.info))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_node_keeps_created_after_an_edge_subquery() {
    let core = Core::new().await;
    let mesgs = core
        .storm(
            "[inet:email=a@b.com] [ +(refs)> {[inet:ipv4=9.9.9.9]} ]",
            &json!({}),
        )
        .await;
    let out = nodes(&mesgs);
    assert_eq!(out.len(), 1, "{mesgs:?}");
    assert_eq!(out[0][0], json!(["inet:email", "a@b.com"]));
    assert!(out[0][1]["props"][".created"].is_u64(), "{}", out[0]);
    assert_eq!(out[0][1]["props"]["user"], json!("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_commands_need_the_edit_permissions() {
    let core = Core::new().await;
    let mesgs = core
        .storm_as(user(&["view.read"]), "gen.ou.org vertex", &json!({}))
        .await;
    let (name, mesg) = err_of(&mesgs).expect("denied");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("node.add.ou:org"), "{mesg}");
    let mesgs = core
        .storm_as(
            user(&["view.read", "node"]),
            "gen.ou.org vertex",
            &json!({}),
        )
        .await;
    assert_eq!(err_of(&mesgs), None);
    assert_eq!(nodes(&mesgs).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copyto_checks_the_destination_permissions() {
    let core = Core::new().await;
    let main = core
        .call("return($lib.view.get().iden)", &json!({}))
        .await
        .expect("iden");
    let fork = core
        .call(
            "$f = $lib.view.get().fork() view.exec $f.iden { [ inet:ipv4=7.7.7.7 +#t ] } return($f.iden)",
            &json!({}),
        )
        .await
        .expect("fork");
    let text = "inet:ipv4=7.7.7.7 | copyto $main";
    let opts = json!({"view": fork, "vars": {"main": main}});
    let mesgs = core
        .storm_as(user(&["view.read", "node.add"]), text, &opts)
        .await;
    let (name, mesg) = err_of(&mesgs).expect("denied");
    assert_eq!(name, "AuthDeny");
    assert!(
        mesg.contains("node.prop.set") || mesg.contains("node.tag.add"),
        "{mesg}"
    );
    let mesgs = core
        .storm_as(user(&["view.read", "node"]), text, &opts)
        .await;
    assert_eq!(err_of(&mesgs), None, "{mesgs:?}");
    let mesgs = core.storm("inet:ipv4=7.7.7.7", &json!({})).await;
    let out = nodes(&mesgs);
    assert_eq!(out.len(), 1);
    assert!(out[0][1]["tags"]["t"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_queries_run_after_their_caller_with_its_variables() {
    let core = Core::new().await;
    let mesgs = core
        .storm(
            "$name=bg.example.com background { [ inet:fqdn=$name ] }",
            &json!({}),
        )
        .await;
    assert_eq!(err_of(&mesgs), None);
    // the query runs on its own; wait (without a time limit the test relies on) for its node
    let mut found = 0;
    for _ in 0..500 {
        found = nodes(&core.storm("inet:fqdn=bg.example.com", &json!({})).await).len();
        if found > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_filler_error_is_a_warning_and_closes_the_pipe() {
    let core = Core::new().await;
    let mesgs = core
        .storm(
            "$pipe = $lib.pipe.gen(${ $pipe.put(a) $lib.raise(Oops, boom) }) for $items in $pipe.slices() { $lib.print($items) }",
            &json!({}),
        )
        .await;
    assert_eq!(err_of(&mesgs), None);
    let warns: Vec<Json> = mesgs
        .iter()
        .filter(|m| m.kind == "warn")
        .map(|m| msgpack_to_json(&m.info)["mesg"].clone())
        .collect();
    assert_eq!(warns.len(), 1, "{mesgs:?}");
    assert!(
        warns[0]
            .as_str()
            .is_some_and(|w| w.starts_with("pipe filler error:") && w.contains("boom")),
        "{warns:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipe_nobody_reads_does_not_keep_the_query() {
    let core = Core::new().await;
    // the filler blocks on the full pipe; the query ends, and the filler with it
    let mesgs = core
        .storm(
            "$pipe = $lib.pipe.gen(${ for $i in $lib.range(100) { $pipe.put($i) } }, size=1) $lib.print($pipe.slice(size=1))",
            &json!({}),
        )
        .await;
    assert_eq!(err_of(&mesgs), None);
    let prints: Vec<Json> = mesgs
        .iter()
        .filter(|m| m.kind == "print")
        .map(|m| msgpack_to_json(&m.info)["mesg"].clone())
        .collect();
    assert_eq!(prints, vec![json!("[0]")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movenodes_apply_checks_the_permissions_of_both_layers() {
    let core = Core::new().await;
    core.storm("[ inet:ipv4=6.6.6.6 :asn=6 +#t ]", &json!({}))
        .await;
    let fork = core
        .call("$f = $lib.view.get().fork() return($f.iden)", &json!({}))
        .await
        .expect("fork");
    let text = "inet:ipv4=6.6.6.6 | movenodes --apply";
    let opts = json!({"view": fork});
    let allow = &["view.read", "node.add", "node.prop", "node.tag"];
    let mesgs = core.storm_as(user(allow), text, &opts).await;
    let (name, mesg) = err_of(&mesgs).expect("denied");
    assert_eq!(name, "AuthDeny");
    assert!(mesg.contains("node.del.inet:ipv4"), "{mesg}");
    // nothing moved
    let main = nodes(&core.storm("inet:ipv4=6.6.6.6", &json!({})).await);
    assert_eq!(main.len(), 1);
    let mesgs = core
        .storm_as(user(&["view.read", "node"]), text, &opts)
        .await;
    assert_eq!(err_of(&mesgs), None, "{mesgs:?}");
    assert_eq!(nodes(&mesgs).len(), 1);
    // the storage node left the parent layer for the fork's
    assert!(nodes(&core.storm("inet:ipv4=6.6.6.6", &json!({})).await).is_empty());
    let moved = nodes(&core.storm("inet:ipv4=6.6.6.6", &opts).await);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0][1]["props"]["asn"], json!(6));
    assert!(moved[0][1]["tags"]["t"].is_array());
}

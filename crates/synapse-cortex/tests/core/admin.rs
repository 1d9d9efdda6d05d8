//! The administration commands and libraries (tasks, views and layers, edge verb docs,
//! deprecated locks, perms, index counts, feeds, packages, daemons): the reference's answers
//! recorded by `gen_admin.py` replayed against our Cortex, the tasks of running queries, and
//! what survives a restart.

use futures::StreamExt;
use rmpv::Value;
use serde_json::{Value as Json, json};
use synapse_cell::{Args, CellApi, Reply};
use synapse_cortex::cortex::Cortex;

use crate::util::{dict, fresh, genr, get, open, root, s, user};

const RECORDED: &str = include_str!("admin_recorded.json");

fn masked(text: &str) -> String {
    let iden = regex::Regex::new(r"[0-9a-f]{32}").unwrap();
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").unwrap();
    let text = iden.replace_all(text, "<iden>");
    time.replace_all(&text, "<time>").into_owned()
}

/// The messages of a `storm()` call as `gen_admin.py` records them.
pub(crate) async fn outcome(api: &CellApi<Cortex>, text: &str) -> Vec<Json> {
    let mesgs = genr(api, "storm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let mut out = Vec::new();
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        let info = &parts[1];
        match parts[0].as_str().unwrap() {
            "node" => {
                let ndef = synapse_cell::to_json(&info.as_array().unwrap()[0]);
                let ndef: Json = serde_json::from_str(&masked(&ndef.to_string())).unwrap();
                out.push(json!(["node", ndef]));
            }
            kind @ ("print" | "warn") => {
                out.push(json!([kind, masked(get(info, "mesg").as_str().unwrap())]));
            }
            "err" => {
                let err = info.as_array().unwrap();
                let mesg = synapse_cell::map_get(&err[1], "mesg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(json!(["err", err[0].as_str().unwrap(), masked(mesg)]));
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn admin_commands_match_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (low, _) = user(&core, "lowuser").await;
    let (low2, _) = user(&core, "lowuser2").await;
    let recorded: Json = serde_json::from_str(RECORDED).unwrap();
    for text in recorded["setup"].as_array().unwrap() {
        outcome(&api, text.as_str().unwrap()).await;
    }
    let mut diffs = Vec::new();
    let cases = recorded["cases"].as_array().unwrap();
    for case in cases {
        let text = case["query"].as_str().unwrap();
        let session = match case["user"].as_str() {
            Some("root") => &api,
            Some("lowuser") => &low,
            _ => &low2,
        };
        let mut got = outcome(session, text).await;
        let mut want = case["expect"].as_array().unwrap().clone();
        if case["unordered"] == true {
            let key = |v: &Json| v.to_string();
            got.sort_by_key(key);
            want.sort_by_key(key);
        }
        if got != want {
            diffs.push(format!(
                "{} {text}\n  want: {}\n  got:  {}",
                case["user"],
                Json::Array(want),
                Json::Array(got)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} cases differ:\n{}",
        diffs.len(),
        cases.len(),
        diffs.join("\n")
    );
}

/// The first `print` texts and the first error of a query.
async fn prints(api: &CellApi<Cortex>, text: &str) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let mut err = None;
    for item in outcome(api, text).await {
        match item[0].as_str().unwrap() {
            "print" => lines.push(item[1].as_str().unwrap().to_owned()),
            "err" if err.is_none() => err = Some(item[1].as_str().unwrap().to_owned()),
            _ => {}
        }
    }
    (lines, err)
}

#[tokio::test]
async fn running_queries_are_tasks_that_can_be_listed_and_killed() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (visi, visi_iden) = user(&core, "visi").await;

    // a query that runs until it is killed
    let Reply::Genr(mut stream) = visi
        .call(
            "storm",
            Args::positional(vec![s("$lib.time.sleep(600)"), dict(vec![])]),
        )
        .await
        .unwrap()
    else {
        panic!("storm is a generator");
    };
    let init = stream.next().await.unwrap().unwrap();
    let init = init.as_array().unwrap();
    assert_eq!(init[0].as_str(), Some("init"));
    let iden = get(&init[1], "task").as_str().unwrap().to_owned();

    // the Boss lists it with the query, view and user
    let task = core.cell().boss().get(&iden).expect("the query is a task");
    assert_eq!(task.opts.name, "storm");
    assert_eq!(task.opts.user, visi_iden);
    assert_eq!(
        synapse_cell::map_get(&task.opts.info, "query").and_then(Value::as_str),
        Some("$lib.time.sleep(600)")
    );

    // root sees it (and its own ps.list query); the owner sees its own only
    let (lines, err) = prints(&api, "ps.list").await;
    assert_eq!(err, None);
    assert!(lines.contains(&"task iden: <iden>".to_owned()));
    assert!(lines.contains(&"    user: visi".to_owned()), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("2 tasks found."));
    let (lines, _) = prints(&visi, "task.list").await;
    assert_eq!(lines.last().map(String::as_str), Some("2 tasks found."));
    assert!(
        lines.contains(&"    service: $lib.null".to_owned()),
        "{lines:?}"
    );

    // another user may not kill it
    let (other, _) = user(&core, "other").await;
    let (_, err) = prints(&other, &format!("$lib.ps.kill({})", &iden[..8])).await;
    assert_eq!(err.as_deref(), Some("StormRuntimeError"));

    // root kills it by prefix; the stream ends without a fini
    let (lines, err) = prints(&api, &format!("ps.kill {}", &iden[..10])).await;
    assert_eq!(err, None);
    assert_eq!(lines, vec!["kill status: true".to_owned()]);
    let rest: Vec<_> = stream.collect().await;
    assert!(
        rest.iter()
            .all(|m| m.as_ref().unwrap().as_array().unwrap()[0].as_str() != Some("fini")),
        "{rest:?}"
    );
    assert!(core.cell().boss().get(&iden).is_none());

    // callStorm and count queries are tasks too
    let text = "for $t in $lib.ps.list() { return(($t.name, $t.info.query)) }";
    let found = crate::util::call(&api, "callStorm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    assert_eq!(found, Value::Array(vec![s("storm"), s(text)]));
    assert!(core.cell().boss().ps().is_empty());
}

#[tokio::test]
async fn the_task_opt_names_the_query_task() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let iden = "0123456789abcdef0123456789abcdef";
    let opts = dict(vec![("task", s(iden))]);
    let Reply::Genr(mut stream) = api
        .call(
            "storm",
            Args::positional(vec![s("$lib.time.sleep(600)"), opts.clone()]),
        )
        .await
        .unwrap()
    else {
        panic!("storm is a generator");
    };
    let init = stream.next().await.unwrap().unwrap();
    assert_eq!(
        get(&init.as_array().unwrap()[1], "task").as_str(),
        Some(iden)
    );
    assert!(core.cell().boss().get(iden).is_some());

    // the same iden again, or one that is not a guid, is refused
    for (bad, mesg) in [
        (iden, "Specified task iden already exists!"),
        (
            "nope",
            "The task iden specified must match the regular expression: ^[a-f0-9]{32}$",
        ),
    ] {
        let mesgs = genr(
            &api,
            "storm",
            vec![s("[ inet:ipv4=1.2.3.4 ]"), dict(vec![("task", s(bad))])],
        )
        .await
        .unwrap();
        assert_eq!(mesgs.len(), 1, "{mesgs:?}");
        let err = mesgs[0].as_array().unwrap()[1].as_array().unwrap();
        assert_eq!(err[0].as_str(), Some("BadArg"));
        assert_eq!(get(&err[1], "mesg").as_str(), Some(mesg));
    }
    let (lines, _) = prints(&api, "inet:ipv4=1.2.3.4 | count").await;
    assert_eq!(lines, vec!["Counted 0 nodes.".to_owned()]);

    let (lines, err) = prints(&api, &format!("task.kill {iden}")).await;
    assert_eq!(err, None);
    assert_eq!(lines, vec!["kill status: true".to_owned()]);
    drop(stream);
    assert!(core.cell().boss().get(iden).is_none());
}

#[tokio::test]
async fn perm_defs_are_the_reference_ones() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let defs = crate::util::call(&api, "getPermDefs", vec![])
        .await
        .unwrap();
    let defs = defs.as_array().unwrap();
    assert_eq!(defs.len(), 188);
    let perms: Vec<String> = defs
        .iter()
        .map(|d| {
            let perm = get(d, "perm").as_array().unwrap();
            let parts: Vec<&str> = perm.iter().map(|p| p.as_str().unwrap()).collect();
            parts.join(".")
        })
        .collect();
    assert!(perms.contains(&"node.add.<form>".to_owned()));
    assert!(perms.contains(&"task.del".to_owned()));
    let mut sorted = perms.clone();
    sorted.sort();
    assert_eq!(perms, sorted);
}

#[tokio::test]
async fn worldreadable_views_are_readable_by_all() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (visi, _) = user(&core, "visi").await;
    let text = "$a=$lib.view.add(($lib.layer.get().iden,), worldreadable=(true)) \
                $b=$lib.view.add(($lib.layer.get().iden,)) return(($a.iden, $b.iden))";
    let out = crate::util::call(&api, "callStorm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let pair = out.as_array().unwrap();
    let (open_view, closed) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
    let (lines, err) = prints(&visi, &format!("view.get {open_view}")).await;
    assert_eq!(err, None, "{lines:?}");
    let (_, err) = prints(&visi, &format!("view.get {closed}")).await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
}

#[tokio::test]
async fn views_layers_edge_docs_and_locks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let (view, layer) = {
        let core = open(&dirn).await;
        let api = root(&core);
        let text = "[ inet:ipv4=1.2.3.4 +(refs)> { [ inet:fqdn=woot.com ] } ] \
                    $l=$lib.layer.add(({\"name\": \"side\"})) $l.set(readonly, (true)) \
                    $v=$lib.view.add(($l.iden, $lib.layer.get().iden), name=two) \
                    model.edge.set refs doc \"a reference\" | \
                    model.deprecated.lock biz:dealtype:summary | \
                    return(($v.iden, $l.iden))";
        let out = crate::util::call(&api, "callStorm", vec![s(text), dict(vec![])])
            .await
            .unwrap();
        let pair = out.as_array().unwrap();
        let pair = (
            pair[0].as_str().unwrap().to_owned(),
            pair[1].as_str().unwrap().to_owned(),
        );
        core.fini().await;
        pair
    };
    let core = open(&dirn).await;
    let api = root(&core);
    let (lines, err) = prints(&api, &format!("view.get {view}")).await;
    assert_eq!(err, None);
    assert_eq!(
        lines[0],
        "View: <iden> (name: two)\n  Creator: <iden>\n  Layers:\n    <iden>: side readonly: True\n    <iden>: default readonly: False"
    );
    let (lines, _) = prints(&api, &format!("layer.get {layer}")).await;
    assert_eq!(
        lines,
        vec!["Layer: <iden> (name: side) readonly: True creator: <iden>".to_owned()]
    );
    // the creator is admin of the new gates
    assert!(core.cell().auth().gate(&view).is_some());
    assert!(core.cell().auth().gate(&layer).is_some());
    let (lines, _) = prints(&api, "model.edge.get refs").await;
    assert_eq!(lines, vec!["verb = refs", "    doc = a reference"]);
    let (lines, _) = prints(
        &api,
        "$lib.print($lib.model.deprecated.locks().'biz:dealtype:summary')",
    )
    .await;
    assert_eq!(lines, vec!["true"]);

    // deleting them persists too
    let (_, err) = prints(&api, &format!("view.del {view} | layer.del {layer}")).await;
    assert_eq!(err, None);
    core.fini().await;
    let core = open(&dirn).await;
    assert!(core.service().views().view(&view).is_none());
    assert!(core.service().views().layer(&layer).is_none());
    assert!(core.cell().auth().gate(&view).is_none());
}

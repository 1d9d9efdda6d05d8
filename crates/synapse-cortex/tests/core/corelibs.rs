//! Storm exports (`exportStorm`, `exportStormToAxon`, `$lib.export.toaxon`), `$lib.json.schema`,
//! `$lib.notifications` with the user notification methods, and deprecation warnings: the
//! reference's answers recorded by `gen_corelibs.py` replayed against our Cortex (with a real
//! Axon cell as its local Axon), and an export from one Cortex fed into another.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use rmpv::Value;
use serde_json::{Value as Json, json};
use synapse_axon::AxonService;
use synapse_cell::{Args, CellApi, CellOptions, ConnInfo, Reply, Service, ServiceCell};
use synapse_cortex::cortex::{AxonClient, Cortex};

use crate::util::{Core, call, dict, fresh, genr, get, root, s, user};

const RECORDED: &str = include_str!("corelibs_recorded.json");

/// The Axon cell in a directory, called as its root user (as synapse-servers composes it).
struct TestAxon {
    cell: ServiceCell<AxonService>,
    api: CellApi<AxonService>,
}

impl AxonClient for TestAxon {
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, synapse_cell::Result<Reply>> {
        Box::pin(self.api.call(meth, args))
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.cell.fini())
    }
}

async fn with_axon(core: &Core, dirn: &std::path::Path) {
    let opts = CellOptions::new(dirn, &AxonService::def())
        .conf("health:sysctl:checks", json!(false))
        .unwrap();
    let cell = ServiceCell::<AxonService>::open(opts).await.unwrap();
    let rootiden = cell.cell().auth().root_iden();
    let api = cell.session(&rootiden, ConnInfo::local());
    core.service().set_axon(Arc::new(TestAxon { cell, api }));
}

/// Mask 32-hex idens, and 64-hex strings that are not node idens (sha256s).
fn masked(text: &str, buids: &HashSet<String>) -> String {
    let iden = regex::Regex::new(r"(^|[^0-9a-f])[0-9a-f]{32}($|[^0-9a-f])").unwrap();
    let text = iden.replace_all(text, "${1}<iden>${2}").into_owned();
    let sha = regex::Regex::new(r"(^|[^0-9a-f])([0-9a-f]{64})($|[^0-9a-f])").unwrap();
    sha.replace_all(&text, |caps: &regex::Captures<'_>| {
        if buids.contains(&caps[2]) {
            caps[0].to_owned()
        } else {
            format!("{}<sha>{}", &caps[1], &caps[3])
        }
    })
    .into_owned()
}

fn mask_json(valu: Json, buids: &HashSet<String>) -> Json {
    match valu {
        Json::String(text) => Json::String(masked(&text, buids)),
        Json::Array(items) => Json::Array(items.into_iter().map(|v| mask_json(v, buids)).collect()),
        Json::Object(items) => Json::Object(
            items
                .into_iter()
                .map(|(k, v)| (k, mask_json(v, buids)))
                .collect(),
        ),
        other => other,
    }
}

/// A pode without `.created` (props and reprs), as JSON.
fn no_created(pode: &Value) -> Json {
    let mut pode = synapse_cell::to_json(pode);
    for key in ["props", "reprs"] {
        if let Some(Json::Object(items)) = pode[1].get_mut(key) {
            items.remove(".created");
        }
    }
    pode
}

/// The recorded opts of a case as the call's opts (`user` resolved to `lowiden`, `@N` vars
/// to the index of the Nth notification added).
fn opts_of(case: &Json, lowiden: &str, added: &[u64]) -> Value {
    let mut opts = case["opts"].clone();
    if opts["user"] == "lowuser" {
        opts["user"] = json!(lowiden);
    }
    if let Some(Json::Object(vars)) = opts.get_mut("vars") {
        for valu in vars.values_mut() {
            if let Some(nth) = valu.as_str().and_then(|v| v.strip_prefix('@')) {
                *valu = json!(added[nth.parse::<usize>().unwrap()]);
            }
        }
    }
    synapse_cell::from_json(&opts)
}

async fn export(api: &CellApi<Cortex>, text: &str, opts: Value) -> Json {
    match genr(api, "exportStorm", vec![s(text), opts]).await {
        Ok(podes) => Json::Array(podes.iter().map(no_created).collect()),
        Err(err) => json!([["err", err.name()]]),
    }
}

/// The messages of a `storm()` call as `gen_corelibs.py` records them.
async fn storm(api: &CellApi<Cortex>, text: &str, opts: Value, buids: &HashSet<String>) -> Json {
    let mesgs = genr(api, "storm", vec![s(text), opts]).await.unwrap();
    let mut out = Vec::new();
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        let info = &parts[1];
        match parts[0].as_str().unwrap() {
            "node" => {
                let pode = synapse_cell::to_json(info);
                let mut tags: Vec<String> = pode[1]["tags"]
                    .as_object()
                    .map(|t| t.keys().cloned().collect())
                    .unwrap_or_default();
                tags.sort();
                out.push(json!([
                    "node",
                    pode[0][0],
                    mask_json(pode[0][1].clone(), buids),
                    tags
                ]));
            }
            kind @ ("print" | "warn") => {
                out.push(json!([
                    kind,
                    masked(get(info, "mesg").as_str().unwrap(), buids)
                ]));
            }
            "err" => {
                let err = info.as_array().unwrap();
                let mesg = synapse_cell::map_get(&err[1], "mesg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(json!([
                    "err",
                    err[0].as_str().unwrap(),
                    masked(mesg, buids)
                ]));
            }
            _ => {}
        }
    }
    Json::Array(out)
}

async fn call_storm(
    api: &CellApi<Cortex>,
    text: &str,
    opts: Value,
    buids: &HashSet<String>,
) -> Json {
    match call(api, "callStorm", vec![s(text), opts]).await {
        Ok(valu) => json!(["ok", mask_json(synapse_cell::to_json(&valu), buids)]),
        Err(err) => json!(["err", err.name(), masked(err.mesg(), buids)]),
    }
}

/// Replay the recorded cases (`sections`: the leading query words of the cases to replay are
/// not filtered; every case runs in order as recorded).
#[tokio::test]
async fn exports_and_libraries_match_the_reference() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let (low, lowiden) = user(&core, "lowuser").await;
    let recorded: Json = serde_json::from_str(RECORDED).unwrap();
    for text in recorded["setup"].as_array().unwrap() {
        let out = storm(&api, text.as_str().unwrap(), Value::Nil, &HashSet::new()).await;
        assert!(
            out.as_array().unwrap().iter().all(|m| m[0] != "err"),
            "setup {text}: {out:?}"
        );
    }
    let mut buids = HashSet::new();
    for pode in genr(&api, "exportStorm", vec![s(".created"), Value::Nil])
        .await
        .unwrap()
    {
        let iden = get(&pode.as_array().unwrap()[1], "iden").as_str().unwrap();
        buids.insert(iden.to_owned());
    }
    let cases = recorded["cases"].as_array().unwrap();
    assert!(cases.len() > 20);
    let mut diffs = Vec::new();
    let mut added = Vec::new();
    let rootiden = core.cell().auth().root_iden();
    for case in cases {
        let text = case["query"].as_str().unwrap();
        if case["mode"] == "notif" {
            let owner = if case["user"] == "lowuser" {
                lowiden.as_str()
            } else {
                rootiden.as_str()
            };
            let data = synapse_cell::from_json(&case["opts"]);
            let indx = call(&api, "addUserNotif", vec![s(owner), s(text), data])
                .await
                .unwrap();
            added.push(indx.as_u64().unwrap());
            continue;
        }
        let session = if case["user"] == "lowuser" {
            &low
        } else {
            &api
        };
        let opts = opts_of(case, &lowiden, &added);
        let got = match case["mode"].as_str() {
            Some("export") => export(session, text, opts).await,
            Some("call") => call_storm(session, text, opts, &buids).await,
            _ => storm(session, text, opts, &buids).await,
        };
        if got != case["expect"] {
            diffs.push(format!("{text}\n  want {}\n  have {got}", case["expect"]));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// The nodes of a query as comparable JSON: ndef, props without `.created`, tags, tag props.
async fn node_set(api: &CellApi<Cortex>, text: &str) -> Vec<Json> {
    let mut out: Vec<Json> = genr(api, "exportStorm", vec![s(text), Value::Nil])
        .await
        .unwrap()
        .iter()
        .map(|pode| {
            let pode = no_created(pode);
            json!([
                pode[0],
                pode[1]["props"],
                pode[1]["tags"],
                pode[1]["tagprops"],
                pode[1]["edges"]
            ])
        })
        .collect();
    out.sort_by_key(|item| item.to_string());
    out
}

#[tokio::test]
async fn an_export_feeds_another_cortex() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let setup = "$lib.model.ext.addTagProp(score, (int, ({})), ({})) \
                 [ inet:fqdn=woot.com +#foo.bar=(2020, 2021) +#baz:score=10 .seen=2020 ] \
                 [ +(refs)> { [ inet:ipv4=1.2.3.4 +#baz ] } ] \
                 $node.data.set(hehe, haha) \
                 [ <(refs)+ { [ inet:ipv4=5.6.7.8 ] } ]";
    call(&api, "callStorm", vec![s(setup), Value::Nil])
        .await
        .unwrap();
    let query = "inet:fqdn=woot.com inet:ipv4";

    // exportStormToAxon: the same bytes the exportStorm podes pack to
    let cortex = core.service().clone();
    let storm_call = synapse_cortex::cortex::StormCall {
        text: query.to_owned(),
        opts: dict(vec![("user", s(&core.cell().auth().root_iden()))]),
        user: core
            .cell()
            .auth()
            .user(&core.cell().auth().root_iden())
            .unwrap(),
    };
    let (size, sha256) = cortex.export_storm_to_axon(storm_call).await.unwrap();
    let podes = genr(&api, "exportStorm", vec![s(query), Value::Nil])
        .await
        .unwrap();
    let packed: Vec<u8> = podes
        .iter()
        .flat_map(synapse_cortex::nodeedit::packb)
        .collect();
    assert_eq!(size, packed.len() as u64);
    assert_eq!(podes.len(), 3);

    // the bytes in the Axon
    let chunks = genr(&api, "getAxonBytes", vec![s(&sha256)]).await.unwrap();
    let stored: Vec<u8> = chunks
        .iter()
        .flat_map(|c| match c {
            Value::Binary(b) => b.clone(),
            _ => panic!("not bytes"),
        })
        .collect();
    assert_eq!(stored.len() as u64, size);

    // into another Cortex through the syn.nodes feed
    let (_dir2, core2) = fresh().await;
    let api2 = root(&core2);
    call(
        &api2,
        "callStorm",
        vec![
            s("$lib.model.ext.addTagProp(score, (int, ({})), ({}))"),
            Value::Nil,
        ],
    )
    .await
    .unwrap();
    call(
        &api2,
        "addFeedData",
        vec![s("syn.nodes"), Value::Array(podes)],
    )
    .await
    .unwrap();
    let want = node_set(&api, query).await;
    let have = node_set(&api2, query).await;
    assert_eq!(want, have);
    // node data travels only when the query loaded it (the reference's `$node.data.load`)
    let data = call(
        &api2,
        "callStorm",
        vec![
            s("inet:fqdn=woot.com return($node.data.get(hehe))"),
            Value::Nil,
        ],
    )
    .await
    .unwrap();
    assert_eq!(data, Value::Nil);
}

#[tokio::test]
async fn user_notifications_api_persist_and_stream() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let (lowiden, first) = {
        let core = crate::util::open(&dirn).await;
        let api = root(&core);
        let (low, lowiden) = user(&core, "lowuser").await;
        let first = call(
            &api,
            "addUserNotif",
            vec![s(&lowiden), s("hehe"), dict(vec![("x", Value::from(1))])],
        )
        .await
        .unwrap();
        // admin only
        let err = call(&low, "addUserNotif", vec![s(&lowiden), s("hehe")])
            .await
            .unwrap_err();
        assert_eq!(err.name(), "AuthDeny");
        let err = call(&low, "getUserNotif", vec![first.clone()])
            .await
            .unwrap_err();
        assert_eq!(err.name(), "AuthDeny");
        let err = genr(&low, "iterUserNotifs", vec![s(&lowiden)])
            .await
            .unwrap_err();
        assert_eq!(err.name(), "AuthDeny");
        let err = call(&api, "addUserNotif", vec![s("newp"), s("hehe")])
            .await
            .unwrap_err();
        assert_eq!(err.name(), "BadArg");
        core.fini().await;
        (lowiden, first)
    };
    let core = crate::util::open(&dirn).await;
    let api = root(&core);
    let mesg = call(&api, "getUserNotif", vec![first.clone()])
        .await
        .unwrap();
    let parts = mesg.as_array().unwrap();
    assert_eq!(parts[0], s(&lowiden));
    assert!(parts[1].as_i64().unwrap() > 0);
    assert_eq!(parts[2], s("hehe"));
    assert_eq!(parts[3], dict(vec![("x", Value::from(1))]));
    // new ones go after the old ones
    let second = call(&api, "addUserNotif", vec![s(&lowiden), s("haha")])
        .await
        .unwrap();
    assert!(second.as_u64().unwrap() > first.as_u64().unwrap());
    let items = genr(&api, "iterUserNotifs", vec![s(&lowiden)])
        .await
        .unwrap();
    let types: Vec<&Value> = items
        .iter()
        .map(|item| &item.as_array().unwrap()[1].as_array().unwrap()[2])
        .collect();
    assert_eq!(types, vec![&s("haha"), &s("hehe")]);
    let items = genr(&api, "iterUserNotifs", vec![s(&lowiden), Value::from(1)])
        .await
        .unwrap();
    assert_eq!(items.len(), 1);

    // watchAllUserNotifs: the new ones, from an offset
    let Reply::Genr(mut watch) = api
        .call("watchAllUserNotifs", Args::positional(vec![first.clone()]))
        .await
        .unwrap()
    else {
        panic!("not a generator")
    };
    use futures::StreamExt;
    let item = watch.next().await.unwrap().unwrap();
    assert_eq!(item.as_array().unwrap()[0], first);
    let item = watch.next().await.unwrap().unwrap();
    assert_eq!(item.as_array().unwrap()[0], second);
    let third = call(&api, "addUserNotif", vec![s(&lowiden), s("live")])
        .await
        .unwrap();
    let item = watch.next().await.unwrap().unwrap();
    assert_eq!(item.as_array().unwrap()[0], third);

    // deleted: gone from the index too; a missing one is null (the reference: IndexError)
    call(&api, "delUserNotif", vec![first.clone()])
        .await
        .unwrap();
    assert_eq!(
        call(&api, "getUserNotif", vec![first.clone()])
            .await
            .unwrap(),
        Value::Nil
    );
    let items = genr(&api, "iterUserNotifs", vec![s(&lowiden)])
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    let text = "return(($lib.notifications.get($n), $lib.notifications.del($n)))";
    let opts = dict(vec![("vars", dict(vec![("n", first)]))]);
    let got = call(&api, "callStorm", vec![s(text), opts]).await.unwrap();
    assert_eq!(got, Value::Array(vec![Value::Nil, Value::Nil]));
}

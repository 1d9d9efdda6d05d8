//! The tag model (`$lib.model.tags`, tag regexes checked on every `syn:tag` norm, `prune` on
//! tag deletion) and the deprecation locks enforced on edits: the reference's answers recorded
//! by `gen_tagmodel.py` replayed against our Cortex, and what survives a restart.

use rmpv::Value;
use serde_json::{Value as Json, json};
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{call, dict, fresh, genr, get, open, root, s, user};

const RECORDED: &str = include_str!("tagmodel_recorded.json");

fn masked(text: &str) -> String {
    let iden = regex::Regex::new(r"(^|[^0-9a-f])[0-9a-f]{32}($|[^0-9a-f])").unwrap();
    iden.replace_all(text, "${1}<iden>${2}").into_owned()
}

fn mask_json(valu: Json) -> Json {
    match valu {
        Json::String(text) => Json::String(masked(&text)),
        other => other,
    }
}

/// The messages of a `storm()` call as `gen_tagmodel.py` records them.
async fn storm(api: &CellApi<Cortex>, text: &str) -> Vec<Json> {
    let opts = dict(vec![("repr", Value::Boolean(false))]);
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
                    mask_json(pode[0][1].clone()),
                    tags
                ]));
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

/// A `callStorm()` result as `gen_tagmodel.py` records it.
async fn call_storm(api: &CellApi<Cortex>, text: &str) -> Json {
    match call(api, "callStorm", vec![s(text), dict(vec![])]).await {
        Ok(valu) => json!(["ok", synapse_cell::to_json(&valu)]),
        Err(err) => {
            json!(["err", err.name(), masked(err.mesg())])
        }
    }
}

/// The nodes `addNodes()` (not strict: locked forms are skipped) yields for JSON nodedefs.
async fn add_nodes(api: &CellApi<Cortex>, defs: &str) -> Json {
    let defs: Json = serde_json::from_str(defs).unwrap();
    let defs = synapse_cell::from_json(&defs);
    let podes = genr(api, "addNodes", vec![defs]).await.unwrap();
    Json::Array(
        podes
            .iter()
            .map(|pode| synapse_cell::to_json(pode)[0].clone())
            .collect(),
    )
}

#[tokio::test]
async fn tag_model_and_deprecation_locks_match_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (low, _) = user(&core, "lowuser").await;
    let recorded: Json = serde_json::from_str(RECORDED).unwrap();
    for text in recorded["setup"].as_array().unwrap() {
        let out = storm(&api, text.as_str().unwrap()).await;
        assert!(out.iter().all(|m| m[0] != "err"), "setup {text}: {out:?}");
    }
    let cases = recorded["cases"].as_array().unwrap();
    assert!(cases.len() > 60);
    let mut diffs = Vec::new();
    for case in cases {
        let text = case["query"].as_str().unwrap();
        let session = if case["user"] == "lowuser" {
            &low
        } else {
            &api
        };
        let got = match case["mode"].as_str() {
            Some("call") => call_storm(session, text).await,
            Some("addnodes") => add_nodes(session, text).await,
            _ => Json::Array(storm(session, text).await),
        };
        let want = case["expect"].clone();
        if got != want {
            diffs.push(format!("{text}\n  want {}\n  have {got}", case["expect"]));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[tokio::test]
async fn tag_model_and_locks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    {
        let core = open(&dirn).await;
        let api = root(&core);
        let text = "$lib.model.tags.set(cno.cve, regex, ([null, null, \"[0-9]{4}\"])) \
                    $lib.model.tags.set(a.b, prune, (1)) \
                    model.deprecated.lock ps:tokn";
        assert_eq!(call_storm(&api, text).await, json!(["ok", null]));
        core.fini().await;
    }
    let core = open(&dirn).await;
    let api = root(&core);
    assert_eq!(
        call_storm(&api, "return($lib.model.tags.list())").await,
        json!(["ok", [["a.b", {"prune": 1}], ["cno.cve", {"regex": [null, null, "[0-9]{4}"]}]]])
    );
    assert_eq!(
        storm(&api, "[ inet:fqdn=woot.com +#cno.cve.x ]").await,
        vec![json!([
            "err",
            "BadTypeValu",
            "Tag part (x) of tag (cno.cve.x) does not match the tag model regex: [[0-9]{4}]"
        ])]
    );
    assert_eq!(
        storm(&api, "[ inet:fqdn=woot.com +#a.b.c ] [ -#a.b.c ]").await,
        vec![json!(["node", "inet:fqdn", "woot.com", ["a"]])]
    );
    assert_eq!(
        storm(&api, "[ ps:tokn=foo ]").await,
        vec![json!([
            "err",
            "IsDeprLocked",
            "Form ps:tokn is locked due to deprecation for valu=foo."
        ])]
    );
    // removals persist too
    let text = "$lib.model.tags.del(cno.cve) $lib.model.tags.pop(a.b, prune) \
                model.deprecated.lock --unlock ps:tokn";
    assert_eq!(call_storm(&api, text).await, json!(["ok", null]));
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    assert_eq!(
        call_storm(&api, "return($lib.model.tags.list())").await,
        json!(["ok", [["a.b", {}]]])
    );
    let out = storm(&api, "[ inet:fqdn=woot.com +#cno.cve.x ps:tokn=foo ]").await;
    assert!(out.iter().all(|m| m[0] != "err"), "{out:?}");
    core.fini().await;
}

#[tokio::test]
async fn the_builtin_crypto_locks_hold_from_the_first_boot() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let out = storm(
        &api,
        "[ crypto:currency:transaction=(t1,) :inputs=((i1,),) ]",
    )
    .await;
    assert_eq!(
        out,
        vec![json!([
            "err",
            "IsDeprLocked",
            "Prop crypto:currency:transaction:inputs is locked due to deprecation."
        ])]
    );
    // the error names the locked element, as the reference's `prop` info
    let text = "[ crypto:currency:transaction=(t2,) :outputs=((o1,),) ]";
    let err = call(&api, "callStorm", vec![s(text), dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "IsDeprLocked");
    assert_eq!(
        err.get("prop").and_then(Value::as_str),
        Some("crypto:currency:transaction:outputs")
    );
}

//! Storm dmons: the CoreApi methods and `$lib.dmon` against our Cortex (runs, restarts after
//! an end or an error, stop/start/bump, logs, user locks, restarts of the Cortex,
//! permissions), and the reference's answers recorded by `gen_dmon.py` replayed.

use std::future::Future;
use std::time::Duration;

use rmpv::Value;
use serde_json::{Value as Json, json};
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{Core, allow, call, dict, fresh, genr, get, open, root, s, user};

const RECORDED: &str = include_str!("dmon_recorded.json");
const WAIT: Duration = Duration::from_secs(90);

/// Wait until `cond` holds (polling), failing after a generous timeout.
async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !cond().await {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn dmon(api: &CellApi<Cortex>, iden: &str) -> Value {
    call(api, "getStormDmon", vec![s(iden)]).await.unwrap()
}

async fn status(api: &CellApi<Cortex>, iden: &str) -> String {
    get(&dmon(api, iden).await, "status")
        .as_str()
        .unwrap()
        .to_owned()
}

/// The value `callStorm` returns.
async fn call_storm(api: &CellApi<Cortex>, text: &str) -> Value {
    call(api, "callStorm", vec![s(text), dict(vec![])])
        .await
        .unwrap()
}

async fn global_int(api: &CellApi<Cortex>, name: &str) -> i64 {
    let text = format!("return($lib.globals.get({name}, (0)))");
    call_storm(api, &text).await.as_i64().unwrap()
}

/// A query counting its runs in the global `name`, making a node per run.
fn counter(name: &str) -> String {
    format!(
        "$n = $lib.globals.get({name}, (0)) $lib.globals.set({name}, ($n + 1)) \
         [ inet:ipv4=$n ] $lib.print(`run {{$n}}`) $lib.warn(careful, n=$n)"
    )
}

fn ddef(iden: &str, user: &str, storm: &str, extra: Vec<(&str, Value)>) -> Value {
    let mut items = vec![("iden", s(iden)), ("user", s(user)), ("storm", s(storm))];
    items.extend(extra);
    dict(items)
}

fn root_iden(core: &Core) -> String {
    core.cell().auth().root_iden()
}

fn dmon_tasks(core: &Core) -> Vec<synapse_cell::BossTask> {
    core.cell()
        .boss()
        .ps()
        .into_iter()
        .filter(|t| t.opts.name == "storm:dmon")
        .collect()
}

#[tokio::test]
async fn a_dmon_runs_again_and_again_and_logs() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let iden = "a".repeat(32);
    let def = ddef(
        &iden,
        &root_iden(&core),
        &counter("runs"),
        vec![("name", s("counter"))],
    );
    let packed = call(&api, "addStormDmon", vec![def]).await.unwrap();
    assert_eq!(get(&packed, "enabled"), &Value::Boolean(true));
    assert_eq!(get(&packed, "err"), &Value::Boolean(false));
    // a run's node, count and log entries come after its counter: wait for all of them
    wait_for("three whole runs, counted and logged", || async {
        let packed = dmon(&api, &iden).await;
        let counted = get(&packed, "count").as_u64().unwrap_or(0) >= 2;
        let logged = call(&api, "getStormDmonLog", vec![s(&iden)])
            .await
            .unwrap()
            .as_array()
            .is_some_and(|log| log.len() >= 4);
        // the fourth run started: the first three ran to their end
        counted && logged && global_int(&api, "runs").await >= 4
    })
    .await;
    // every run made its node
    let n = call(&api, "count", vec![s("inet:ipv4"), dict(vec![])]).await;
    assert!(n.unwrap().as_i64().unwrap() >= 3);
    let packed = dmon(&api, &iden).await;
    assert!(get(&packed, "count").as_u64().unwrap() >= 2, "{packed}");
    let status = get(&packed, "status").as_str().unwrap().to_owned();
    assert!(status == "running" || status == "sleeping", "{status}");
    let log = call(&api, "getStormDmonLog", vec![s(&iden)]).await.unwrap();
    let log = log.as_array().unwrap().clone();
    assert!(log.len() >= 4, "{log:?}");
    let first = log[0].as_array().unwrap();
    assert!(first[0].as_i64().unwrap() > 1_600_000_000_000);
    let mesg = first[1].as_array().unwrap();
    assert_eq!(mesg[0].as_str(), Some("print"));
    assert_eq!(get(&mesg[1], "mesg").as_str(), Some("run 0"));
    let warn = log[1].as_array().unwrap()[1].as_array().unwrap().clone();
    assert_eq!(warn[0].as_str(), Some("warn"));
    assert_eq!(get(&warn[1], "mesg").as_str(), Some("careful"));

    // it is a background task of the Boss, listed by ps.list
    let tasks = dmon_tasks(&core);
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].opts.background);
    assert_eq!(
        get(&tasks[0].opts.info, "iden").as_str(),
        Some(iden.as_str())
    );
    assert_eq!(get(&tasks[0].opts.info, "name").as_str(), Some("counter"));
    assert_eq!(get(&tasks[0].opts.info, "view"), &Value::Nil);
    assert_eq!(tasks[0].opts.username, "root");

    // deleting stops it
    call(&api, "delStormDmon", vec![s(&iden)]).await.unwrap();
    assert!(dmon_tasks(&core).is_empty());
    assert_eq!(dmon(&api, &iden).await, Value::Nil);
    let dmons = call(&api, "getStormDmons", vec![]).await.unwrap();
    assert_eq!(dmons, Value::Array(vec![]));
    core.fini().await;
}

#[tokio::test]
async fn stop_start_and_bump() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let text = format!(
        "$d = $lib.dmon.add(${{ {} $lib.time.sleep(3600) }}, name=sleepy) return($d.iden)",
        counter("sleepy")
    );
    let iden = call_storm(&api, &text).await.as_str().unwrap().to_owned();
    wait_for("the first run", || async {
        global_int(&api, "sleepy").await >= 1
    })
    .await;
    wait_for("running", || async {
        status(&api, &iden).await == "running"
    })
    .await;
    let packed = dmon(&api, &iden).await;
    let opts = get(&packed, "stormopts");
    let auto = get(get(opts, "vars"), "auto");
    assert_eq!(get(auto, "iden").as_str(), Some(iden.as_str()));
    assert_eq!(get(auto, "type").as_str(), Some("dmon"));
    let view = call_storm(&api, "return($lib.view.get().iden)").await;
    assert_eq!(get(opts, "view"), &view);

    // a bump restarts the query (it sleeps for an hour otherwise)
    let out = call_storm(&api, &format!("return($lib.dmon.bump({iden}))")).await;
    assert_eq!(out, Value::Boolean(true));
    wait_for("the bumped run", || async {
        global_int(&api, "sleepy").await >= 2
    })
    .await;

    // stop: disabled, its task gone once the call returns
    let out = call_storm(&api, &format!("return($lib.dmon.stop({iden}))")).await;
    assert_eq!(out, Value::Boolean(true));
    assert!(dmon_tasks(&core).is_empty());
    let packed = dmon(&api, &iden).await;
    assert_eq!(get(&packed, "status").as_str(), Some("stopped"));
    assert_eq!(get(&packed, "enabled"), &Value::Boolean(false));
    let again = call_storm(&api, &format!("return($lib.dmon.stop({iden}))")).await;
    assert_eq!(again, Value::Boolean(false));
    let bump = call_storm(&api, &format!("return($lib.dmon.bump({iden}))")).await;
    assert_eq!(bump, Value::Boolean(false));
    let runs = global_int(&api, "sleepy").await;

    // start: runs again
    let out = call_storm(&api, &format!("return($lib.dmon.start({iden}))")).await;
    assert_eq!(out, Value::Boolean(true));
    wait_for("a run after start", || async {
        global_int(&api, "sleepy").await > runs
    })
    .await;
    assert_eq!(dmon_tasks(&core).len(), 1);

    // the CoreApi twins
    let off = call(&api, "disableStormDmon", vec![s(&iden)])
        .await
        .unwrap();
    assert_eq!(off, Value::Boolean(true));
    assert!(dmon_tasks(&core).is_empty());
    let on = call(&api, "enableStormDmon", vec![s(&iden)]).await.unwrap();
    assert_eq!(on, Value::Boolean(true));
    let bumped = call(&api, "bumpStormDmon", vec![s(&iden)]).await.unwrap();
    assert_eq!(bumped, Value::Boolean(true));
    wait_for("running again", || async {
        status(&api, &iden).await == "running"
    })
    .await;
    assert_eq!(dmon_tasks(&core).len(), 1);

    // a dmon can stop another one, or itself
    let text = format!("return($lib.dmon.add(${{ $lib.dmon.stop({iden}) }}, name=stopper).iden)");
    let stopper = call_storm(&api, &text).await.as_str().unwrap().to_owned();
    wait_for("the other's stop", || async {
        status(&api, &iden).await == "stopped"
    })
    .await;
    assert_eq!(
        get(&dmon(&api, &iden).await, "enabled"),
        &Value::Boolean(false)
    );
    call(&api, "delStormDmon", vec![s(&stopper)]).await.unwrap();
    let text = "return($lib.dmon.add(${ $lib.dmon.stop($auto.iden) }, name=selfstop).iden)";
    let me = call_storm(&api, text).await.as_str().unwrap().to_owned();
    wait_for("its own stop", || async {
        get(&dmon(&api, &me).await, "enabled") == &Value::Boolean(false)
    })
    .await;
    wait_for("its task gone", || async {
        dmon_tasks(&core)
            .iter()
            .all(|t| get(&t.opts.info, "iden").as_str() != Some(me.as_str()))
    })
    .await;
    core.fini().await;
}

#[tokio::test]
async fn errors_restart_the_dmon() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let iden = "b".repeat(32);
    let text = "$n = $lib.globals.get(fails, (0)) $lib.globals.set(fails, ($n + 1)) \
                $lib.raise(Oops, boom)";
    let def = ddef(&iden, &root_iden(&core), text, vec![]);
    call(&api, "addStormDmon", vec![def]).await.unwrap();
    wait_for("two failed runs", || async {
        global_int(&api, "fails").await >= 2
    })
    .await;
    wait_for("the error status", || async {
        status(&api, &iden).await.starts_with("error: ")
    })
    .await;
    let packed = dmon(&api, &iden).await;
    let status = get(&packed, "status").as_str().unwrap();
    assert!(
        status.starts_with("error: StormRaise: errname='Oops'"),
        "{status}"
    );
    assert!(status.ends_with("mesg='boom'"), "{status}");
    assert_eq!(get(&packed, "err"), &Value::Boolean(true));
    let log = call(&api, "getStormDmonLog", vec![s(&iden)]).await.unwrap();
    let entry = log.as_array().unwrap()[0].as_array().unwrap()[1].clone();
    let entry = entry.as_array().unwrap();
    assert_eq!(entry[0].as_str(), Some("err"));
    assert_eq!(get(&entry[1], "err").as_str(), Some("StormRaise"));
    assert_eq!(
        format!("error: {}", get(&entry[1], "errmsg").as_str().unwrap()),
        status
    );
    assert_eq!(
        get(get(&entry[1], "errinfo"), "mesg").as_str(),
        Some("boom")
    );
    core.fini().await;
}

#[tokio::test]
async fn dmons_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let (on, off) = ("c".repeat(32), "d".repeat(32));
    let runs = {
        let core = open(&dirn).await;
        let api = root(&core);
        let rooti = root_iden(&core);
        let def = ddef(&on, &rooti, &counter("boots"), vec![("name", s("on"))]);
        call(&api, "addStormDmon", vec![def]).await.unwrap();
        let def = ddef(
            &off,
            &rooti,
            &counter("never"),
            vec![("enabled", Value::Boolean(false))],
        );
        call(&api, "addStormDmon", vec![def]).await.unwrap();
        wait_for("a run", || async { global_int(&api, "boots").await >= 1 }).await;
        let runs = global_int(&api, "boots").await;
        core.fini().await;
        runs
    };
    let core = open(&dirn).await;
    let api = root(&core);
    // the run's print comes after its counter: wait for both
    wait_for("a logged run after the restart", || async {
        let logged = call(&api, "getStormDmonLog", vec![s(&on)])
            .await
            .unwrap()
            .as_array()
            .is_some_and(|log| !log.is_empty());
        logged && global_int(&api, "boots").await > runs
    })
    .await;
    let dmons = call(&api, "getStormDmons", vec![]).await.unwrap();
    let names: Vec<Value> = dmons
        .as_array()
        .unwrap()
        .iter()
        .map(|d| get(d, "iden").clone())
        .collect();
    assert_eq!(names, vec![s(&on), s(&off)]);
    let packed = dmon(&api, &off).await;
    assert_eq!(get(&packed, "status").as_str(), Some("initialized"));
    assert_eq!(get(&packed, "enabled"), &Value::Boolean(false));
    assert_eq!(global_int(&api, "never").await, 0);
    // the log starts afresh
    let log = call(&api, "getStormDmonLog", vec![s(&on)]).await.unwrap();
    let first = log.as_array().unwrap()[0].as_array().unwrap()[1].clone();
    let text = get(&first.as_array().unwrap()[1], "mesg")
        .as_str()
        .unwrap()
        .to_owned();
    let n: i64 = text.strip_prefix("run ").unwrap().parse().unwrap();
    assert!(n >= runs, "{text} after {runs} runs");
    // disabling persists too
    call(&api, "disableStormDmon", vec![s(&on)]).await.unwrap();
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let packed = dmon(&api, &on).await;
    assert_eq!(get(&packed, "enabled"), &Value::Boolean(false));
    assert!(dmon_tasks(&core).is_empty());
    core.fini().await;
}

#[tokio::test]
async fn locked_users_and_missing_views_stop_the_dmon() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (_visi, visi) = user(&core, "visi").await;
    allow(&core, &visi, &["globals"], None).await;
    let iden = "e".repeat(32);
    let def = ddef(
        &iden,
        &visi,
        &format!("{} $lib.time.sleep(3600)", counter("visi")),
        vec![],
    );
    call(&api, "addStormDmon", vec![def]).await.unwrap();
    wait_for("visi's run", || async {
        global_int(&api, "visi").await >= 1
    })
    .await;
    core.cell()
        .auth()
        .set_user_locked(&visi, true)
        .await
        .unwrap();
    wait_for("the lock", || async {
        status(&api, &iden).await == "fatal error: user locked"
    })
    .await;
    assert!(dmon_tasks(&core).is_empty());
    core.cell()
        .auth()
        .set_user_locked(&visi, false)
        .await
        .unwrap();
    wait_for("the unlock", || async {
        global_int(&api, "visi").await >= 2
    })
    .await;

    // a dmon in a view that goes away
    let text = "$v = $lib.view.get().fork() \
                $d = $lib.dmon.add(${ $lib.time.sleep(3600) }, ddef=({\"stormopts\": {\"view\": $v.iden}})) \
                return(($d.iden, $v.iden))";
    let pair = call_storm(&api, text).await;
    let pair = pair.as_array().unwrap();
    let (diden, viden) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
    let packed = dmon(&api, diden).await;
    assert_eq!(get(get(&packed, "stormopts"), "view").as_str(), Some(viden));
    wait_for("running in the fork", || async {
        status(&api, diden).await == "running"
    })
    .await;
    call_storm(&api, &format!("$lib.view.del({viden})")).await;
    call(&api, "bumpStormDmon", vec![s(diden)]).await.unwrap();
    wait_for("the invalid view", || async {
        status(&api, diden).await == "fatal error: invalid view"
    })
    .await;
    core.fini().await;
}

#[tokio::test]
async fn dmon_permissions() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (low, lowi) = user(&core, "low").await;
    // the CoreApi methods are admin only
    for meth in ["getStormDmons"] {
        let err = call(&low, meth, vec![]).await.unwrap_err();
        assert_eq!(err.name(), "AuthDeny");
    }
    for meth in [
        "getStormDmon",
        "delStormDmon",
        "bumpStormDmon",
        "getStormDmonLog",
    ] {
        let err = call(&low, meth, vec![s("x")]).await.unwrap_err();
        assert_eq!(err.name(), "AuthDeny", "{meth}");
    }
    let err = call(&low, "addStormDmon", vec![dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");

    let add = "return($lib.dmon.add(${ $lib.time.sleep(3600) }, name=low).iden)";
    let err = call(&low, "callStorm", vec![s(add), dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    let view = call_storm(&api, "return($lib.view.get().iden)").await;
    allow(&core, &lowi, &["dmon", "add"], view.as_str()).await;
    let mine = call(&low, "callStorm", vec![s(add), dict(vec![])])
        .await
        .unwrap();
    let mine = mine.as_str().unwrap().to_owned();
    let packed = dmon(&api, &mine).await;
    assert_eq!(get(&packed, "user").as_str(), Some(lowi.as_str()));
    wait_for("low's dmon running", || async {
        status(&api, &mine).await == "running"
    })
    .await;
    let tasks = dmon_tasks(&core);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].opts.user, lowi);

    let log = format!("$lib.dmon.log({mine})");
    let err = call(&low, "callStorm", vec![s(&log), dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    allow(&core, &lowi, &["dmon", "log"], None).await;
    call(&low, "callStorm", vec![s(&log), dict(vec![])])
        .await
        .unwrap();

    // root's dmon: deleting needs dmon.del.<iden>; the owner deletes its own
    let rooted = call_storm(
        &api,
        "return($lib.dmon.add(${ $lib.time.sleep(3600) }).iden)",
    )
    .await;
    let rooted = rooted.as_str().unwrap().to_owned();
    let del = format!("$lib.dmon.del({rooted})");
    let err = call(&low, "callStorm", vec![s(&del), dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert!(
        err.mesg().contains(&format!("dmon.del.{rooted}")),
        "{}",
        err.mesg()
    );
    allow(&core, &lowi, &["dmon", "del", &rooted], None).await;
    call(&low, "callStorm", vec![s(&del), dict(vec![])])
        .await
        .unwrap();
    let mine_del = format!("$lib.dmon.del({mine})");
    call(&low, "callStorm", vec![s(&mine_del), dict(vec![])])
        .await
        .unwrap();
    assert!(dmon_tasks(&core).is_empty());
    // readonly runtimes refuse the edits
    let opts = dict(vec![("readonly", Value::Boolean(true))]);
    let err = call(&api, "callStorm", vec![s(add), opts])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "IsReadOnly");
    core.fini().await;
}

// ----- the recorded replay -----

fn mask(text: &str) -> String {
    let iden = regex::Regex::new(r"[0-9a-f]{32}").unwrap();
    let time = regex::Regex::new(r"\b1\d{12}\b").unwrap();
    let text = iden.replace_all(text, "<iden>");
    time.replace_all(&text, "<time>").into_owned()
}

fn mask_json(valu: Json) -> Json {
    match valu {
        Json::String(text) => Json::String(mask(&text)),
        Json::Number(n) if n.as_i64().is_some_and(|n| n > 1_000_000_000_000) => json!("<time>"),
        Json::Array(items) => Json::Array(items.into_iter().map(mask_json).collect()),
        Json::Object(items) => {
            Json::Object(items.into_iter().map(|(k, v)| (k, mask_json(v))).collect())
        }
        other => other,
    }
}

/// Replace `ROOT` with root's iden in a recorded definition.
fn with_root(valu: &Json, root: &str) -> Json {
    match valu {
        Json::String(text) if text == "ROOT" => json!(root),
        Json::Array(items) => Json::Array(items.iter().map(|v| with_root(v, root)).collect()),
        Json::Object(items) => Json::Object(
            items
                .iter()
                .map(|(k, v)| (k.clone(), with_root(v, root)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn storm_outcome(api: &CellApi<Cortex>, text: &str, opts: Value) -> Vec<Json> {
    let mesgs = genr(api, "storm", vec![s(text), opts]).await.unwrap();
    let mut out = Vec::new();
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        let info = &parts[1];
        match parts[0].as_str().unwrap() {
            kind @ ("print" | "warn") => {
                out.push(json!([kind, mask(get(info, "mesg").as_str().unwrap())]));
            }
            "err" => {
                let err = info.as_array().unwrap();
                let mesg = synapse_cell::map_get(&err[1], "mesg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(json!(["err", err[0].as_str().unwrap(), mask(mesg)]));
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn dmons_match_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (low, _) = user(&core, "lowuser").await;
    let rooti = root_iden(&core);
    let recorded: Json = serde_json::from_str(RECORDED).unwrap();
    for step in recorded.as_array().unwrap() {
        let kind = step["kind"].as_str().unwrap();
        let got = match kind {
            "api" => {
                let meth = step["meth"].as_str().unwrap();
                let args: Vec<Value> = step["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| synapse_cell::from_json(&with_root(a, &rooti)))
                    .collect();
                match call(&api, meth, args).await {
                    Ok(valu) => json!({"ok": mask_json(synapse_cell::to_json(&valu))}),
                    Err(err) if err.name() == "BadSyntax" => json!({"err": ["BadSyntax"]}),
                    Err(err) => json!({"err": [err.name(), mask(err.mesg())]}),
                }
            }
            "storm" => {
                let sess = if step["user"] == "lowuser" {
                    &low
                } else {
                    &api
                };
                let opts = synapse_cell::from_json(&step["opts"]);
                json!(storm_outcome(sess, step["query"].as_str().unwrap(), opts).await)
            }
            "wait" => {
                let iden = step["iden"].as_str().unwrap();
                let prefix = step["prefix"].as_str().unwrap();
                let logs = step["logs"].as_u64().unwrap_or(0) as usize;
                wait_for(prefix, || async {
                    let log = call(&api, "getStormDmonLog", vec![s(iden)]).await.unwrap();
                    status(&api, iden).await.starts_with(prefix)
                        && log.as_array().unwrap().len() >= logs
                })
                .await;
                json!(null)
            }
            "log" => {
                let iden = step["iden"].as_str().unwrap();
                let count = step["count"].as_u64().unwrap() as usize;
                let log = call(&api, "getStormDmonLog", vec![s(iden)]).await.unwrap();
                let mut items: Vec<Json> = log
                    .as_array()
                    .unwrap()
                    .iter()
                    .take(count)
                    .map(|v| mask_json(synapse_cell::to_json(v)))
                    .collect();
                // the reference's errfile/errline name its Python sources
                for item in &mut items {
                    if let Some(info) = item.pointer_mut("/1/1").and_then(Json::as_object_mut) {
                        info.remove("errfile");
                        info.remove("errline");
                    }
                }
                json!(items)
            }
            other => panic!("unknown step {other}"),
        };
        assert_eq!(got, step["expect"], "step {step}");
    }
    core.fini().await;
}

#[tokio::test]
async fn safe_mode_runs_no_dmon() {
    use synapse_cell::{CellOptions, Service, ServiceCell};
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let iden = "f".repeat(32);
    {
        let core = open(&dirn).await;
        let api = root(&core);
        let def = ddef(&iden, &root_iden(&core), "$lib.time.sleep(3600)", vec![]);
        call(&api, "addStormDmon", vec![def]).await.unwrap();
        assert_eq!(dmon_tasks(&core).len(), 1);
        core.fini().await;
    }
    let opts = CellOptions::new(&dirn, &Cortex::def())
        .conf("safemode", Json::Bool(true))
        .unwrap();
    let core = ServiceCell::<Cortex>::open(opts).await.unwrap();
    let api = root(&core);
    let packed = dmon(&api, &iden).await;
    assert_eq!(get(&packed, "status").as_str(), Some("initialized"));
    assert_eq!(get(&packed, "enabled"), &Value::Boolean(true));
    let other = ddef(
        &"0".repeat(32),
        &root_iden(&core),
        "$lib.time.sleep(3600)",
        vec![],
    );
    call(&api, "addStormDmon", vec![other]).await.unwrap();
    assert!(dmon_tasks(&core).is_empty());
    core.fini().await;
}

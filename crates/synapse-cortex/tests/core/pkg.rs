//! Storm packages through the CoreApi and Storm: modules imported with `$lib.import`, pure
//! commands with `$cmdopts` / `$cmdconf` and their permissions, the `onload` query, the
//! reference's validation errors, and persistence across a reopen.

use rmpv::Value;
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{allow, call, dict, fresh, get, list, open, root, s, user};

fn pkgdef() -> Value {
    dict(vec![
        ("name", s("testpkg")),
        (
            "version",
            list(vec![Value::from(1), Value::from(2), Value::from(3)]),
        ),
        (
            "modules",
            list(vec![dict(vec![
                ("name", s("testmod")),
                (
                    "storm",
                    s(
                        "$answer = (42) function add(x, y) { return(($x + $y)) } function conf() { return($modconf.pkgmeta.pkgname) }",
                    ),
                ),
            ])]),
        ),
        (
            "commands",
            list(vec![dict(vec![
                ("name", s("test.cmd")),
                ("descr", s("Add one to ints.")),
                (
                    "cmdargs",
                    list(vec![
                        list(vec![
                            s("--by"),
                            dict(vec![("type", s("int")), ("default", Value::from(1))]),
                        ]),
                        list(vec![s("word"), dict(vec![])]),
                    ]),
                ),
                ("cmdconf", dict(vec![("flavor", s("salty"))])),
                (
                    "storm",
                    s(
                        "$lib.print(`{$cmdopts.word} {$cmdconf.flavor}`) [ :asn = ($node.value() + $cmdopts.by) ]",
                    ),
                ),
            ])]),
        ),
        ("onload", s("$lib.globals.set(testpkg:loaded, $lib.true)")),
    ])
}

/// `(prints, warns, first error name)` of a `storm()` call.
async fn run(api: &CellApi<Cortex>, text: &str) -> (Vec<String>, Vec<String>, Option<String>) {
    let mesgs = crate::util::genr(api, "storm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let (mut prints, mut warns, mut err) = (Vec::new(), Vec::new(), None);
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        let text = || {
            get(&parts[1], "mesg")
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        match parts[0].as_str() {
            Some("print") => prints.push(text()),
            Some("warn") => warns.push(text()),
            Some("err") if err.is_none() => {
                err = Some(parts[1].as_array().unwrap()[0].as_str().unwrap().to_owned());
            }
            _ => {}
        }
    }
    (prints, warns, err)
}

async fn call_storm(api: &CellApi<Cortex>, text: &str) -> Value {
    call(api, "callStorm", vec![s(text), dict(vec![])])
        .await
        .unwrap()
}

#[tokio::test]
async fn packages_add_use_reopen_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);
    call(&api, "addStormPkg", vec![pkgdef()]).await.unwrap();

    // stored normalized: the version text, the module's pkgmeta, the command's pkgname
    let got = call(&api, "getStormPkg", vec![s("testpkg")]).await.unwrap();
    assert_eq!(get(&got, "version"), &s("1.2.3"));
    let module = &get(&got, "modules").as_array().unwrap()[0];
    assert_eq!(
        get(get(get(module, "modconf"), "pkgmeta"), "pkgname"),
        &s("testpkg")
    );
    let command = &get(&got, "commands").as_array().unwrap()[0];
    assert_eq!(get(command, "pkgname"), &s("testpkg"));
    let all = call(&api, "getStormPkgs", vec![]).await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);

    // the command is documented as the reference documents package commands
    let info = call(&api, "getCoreInfoV2", vec![]).await.unwrap();
    let cmds = get(get(&info, "stormdocs"), "commands").as_array().unwrap();
    let entry = cmds
        .iter()
        .find(|c| get(c, "name") == &s("test.cmd"))
        .unwrap();
    assert_eq!(
        (get(entry, "doc"), get(entry, "package")),
        (&s("Add one to ints."), &s("testpkg"))
    );
    let info = call(&api, "getCoreInfo", vec![]).await.unwrap();
    assert!(
        get(&info, "stormcmds")
            .as_map()
            .unwrap()
            .iter()
            .any(|(k, _)| k == &s("test.cmd"))
    );

    let check = |api: CellApi<Cortex>| async move {
        let sum = call_storm(
            &api,
            "$m=$lib.import(testmod) return(($m.add(1, 2) + $m.answer))",
        )
        .await;
        assert_eq!(sum, Value::from(45));
        let conf = call_storm(&api, "return($lib.import(testmod).conf())").await;
        assert_eq!(conf, s("testpkg"));
        let (prints, _, err) = run(&api, "[ inet:ipv4=5 ] | test.cmd hello --by 2").await;
        assert_eq!(err, None);
        assert_eq!(prints, vec!["hello salty".to_owned()]);
        let asn = call_storm(&api, "inet:ipv4=5 | test.cmd hi | return(:asn)").await;
        assert_eq!(asn, Value::from(6));
        let (prints, _, _) = run(&api, "pkg.list").await;
        assert_eq!(prints[0], "Loaded storm packages:");
        assert!(prints[2].starts_with(" testpkg "), "{prints:?}");
    };
    check(api.clone()).await;

    // the onload query ran (in the background)
    let mut loaded = Value::Nil;
    for _ in 0..200 {
        loaded = call_storm(&api, "return($lib.globals.get(testpkg:loaded))").await;
        if loaded == Value::Boolean(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(loaded, Value::Boolean(true));

    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    check(api.clone()).await;

    call(&api, "delStormPkg", vec![s("testpkg")]).await.unwrap();
    let (_, _, err) = run(&api, "test.cmd x").await;
    assert_eq!(err.as_deref(), Some("NoSuchName"));
    let (_, _, err) = run(&api, "$lib.import(testmod)").await;
    assert_eq!(err.as_deref(), Some("NoSuchName"));
    let err = call(&api, "delStormPkg", vec![s("testpkg")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchPkg");
    assert_eq!(
        call(&api, "getStormPkg", vec![s("testpkg")]).await.unwrap(),
        Value::Nil
    );
}

#[tokio::test]
async fn bad_package_definitions_are_refused() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            dict(vec![]),
            "SchemaViolation",
            "data must contain ['name', 'version'] properties",
        ),
        (
            dict(vec![("name", s("foo")), ("version", s("1.x"))]),
            "SchemaViolation",
            "data.version must match pattern",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                (
                    "commands",
                    list(vec![dict(vec![("name", s("Bad")), ("storm", s(""))])]),
                ),
            ]),
            "SchemaViolation",
            "data.commands[0].name must match pattern ^[a-z][a-z0-9.]+$",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                (
                    "modules",
                    list(vec![dict(vec![("name", s("m")), ("storm", s("{{"))])]),
                ),
            ]),
            "BadSyntax",
            "Unexpected token",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                ("synapse_version", s(">=3.0.0")),
            ]),
            "BadVersion",
            "Storm package foo requires Synapse >=3.0.0 but Cortex is running (2, 256, 0)",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                (
                    "inits",
                    dict(vec![(
                        "versions",
                        list(vec![
                            dict(vec![
                                ("name", s("a")),
                                ("version", Value::from(2)),
                                ("query", s("")),
                            ]),
                            dict(vec![
                                ("name", s("b")),
                                ("version", Value::from(1)),
                                ("query", s("")),
                            ]),
                        ]),
                    )]),
                ),
            ]),
            "BadPkgDef",
            "Init versions must be monotonically increasing.",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                (
                    "depends",
                    dict(vec![(
                        "conflicts",
                        list(vec![dict(vec![("name", s("other"))])]),
                    )]),
                ),
            ]),
            "StormPkgConflicts",
            "Storm package foo conflicts with other.",
        ),
        (
            dict(vec![
                ("name", s("foo")),
                ("version", s("1.0.0")),
                (
                    "perms",
                    list(vec![dict(vec![("perm", list(vec![s("a")]))])]),
                ),
            ]),
            "SchemaViolation",
            "data.perms[0] must contain ['desc', 'gate'] properties",
        ),
    ];
    let other = dict(vec![("name", s("other")), ("version", s("0.1.0"))]);
    call(&api, "addStormPkg", vec![other]).await.unwrap();
    for (pdef, class, mesg) in cases {
        let Err(err) = call(&api, "addStormPkg", vec![pdef.clone()]).await else {
            panic!("accepted: {pdef}");
        };
        assert_eq!(err.name(), class, "{pdef}");
        assert!(err.mesg().starts_with(mesg), "{pdef}: {}", err.mesg());
    }
    let signed = dict(vec![("name", s("foo")), ("version", s("1.0.0"))]);
    let err = call(&api, "addStormPkg", vec![signed, Value::Boolean(true)])
        .await
        .unwrap_err();
    assert_eq!(
        (err.name(), err.mesg()),
        ("BadPkgDef", "Storm package is not signed!")
    );
    let names = call_storm(
        &api,
        "$n=([]) for $p in $lib.pkg.list() { $n.append($p.name) } return($n)",
    )
    .await;
    assert_eq!(names, list(vec![s("other")]));
}

#[tokio::test]
async fn package_permissions() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (visi, iden) = user(&core, "visi").await;
    let err = call(&visi, "addStormPkg", vec![pkgdef()])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    let err = call(&visi, "getStormPkgs", vec![]).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    allow(&core, &iden, &["pkg", "add"], None).await;
    call(&visi, "addStormPkg", vec![pkgdef()]).await.unwrap();

    // a command's perms: any one of them is enough
    let mut guarded = pkgdef();
    if let Value::Map(items) = &mut guarded {
        items.retain(|(k, _)| k.as_str() != Some("onload"));
        for (k, v) in items.iter_mut() {
            if k.as_str() == Some("commands")
                && let Value::Array(cmds) = v
                && let Value::Map(cdef) = &mut cmds[0]
            {
                cdef.push((
                    s("perms"),
                    list(vec![
                        list(vec![s("test"), s("one")]),
                        list(vec![s("test"), s("two")]),
                    ]),
                ));
            }
        }
    }
    call(&api, "addStormPkg", vec![guarded]).await.unwrap();
    allow(&core, &iden, &["node"], None).await;
    let (_, _, err) = run(&visi, "test.cmd x").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
    allow(&core, &iden, &["test", "two"], None).await;
    let (prints, _, err) = run(&visi, "test.cmd x").await;
    assert_eq!((prints, err), (vec!["x salty".to_owned()], None));
    let (_, _, err) = run(&visi, "$lib.pkg.del(testpkg)").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
}

#[tokio::test]
async fn package_storm_library_and_commands() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let text = "$lib.pkg.add(({'name': 'zed', 'version': '0.0.1', 'docs': [{'title': 't', 'content': 'the docs'}], \
                'perms': [{'perm': ['zed', 'use'], 'desc': 'Use zed.', 'gate': 'cortex'}]}))";
    let (_, _, err) = run(&api, text).await;
    assert_eq!(err, None);
    assert_eq!(
        call_storm(&api, "return($lib.pkg.has(zed))").await,
        Value::Boolean(true)
    );
    assert_eq!(
        call_storm(&api, "return($lib.pkg.get(zed).version)").await,
        s("0.0.1")
    );
    assert_eq!(
        call_storm(&api, "return($lib.pkg.get(nope))").await,
        Value::Nil
    );
    let (prints, _, _) = run(&api, "pkg.docs ze").await;
    assert_eq!(prints, vec!["the docs".to_owned()]);
    let (prints, _, _) = run(&api, "pkg.perms.list zed").await;
    assert_eq!(
        prints,
        vec![
            "Package (zed) defines the following permissions:".to_owned(),
            "zed.use                          : Use zed. ( default: false )".to_owned(),
        ]
    );
    let (_, warns, _) = run(&api, "pkg.docs nope").await;
    assert_eq!(warns, vec!["Package (nope) not found!".to_owned()]);
    let (prints, _, _) = run(&api, "pkg.del z").await;
    assert_eq!(prints, vec!["Removing package: zed".to_owned()]);
    let (prints, _, _) = run(&api, "pkg.list").await;
    assert_eq!(prints, vec!["No storm packages installed.".to_owned()]);
    let (_, _, err) = run(&api, "$lib.pkg.del(zed)").await;
    assert_eq!(err.as_deref(), Some("NoSuchPkg"));
}

const RECORDED: &str = include_str!("pkg_recorded.json");

/// The reference's answers recorded by `gen_pkg.py`, replayed in order on one Cortex.
#[tokio::test]
async fn package_queries_match_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let recorded: serde_json::Value = serde_json::from_str(RECORDED).unwrap();
    for text in recorded["setup"].as_array().unwrap() {
        crate::admin::outcome(&api, text.as_str().unwrap()).await;
    }
    let mut diffs = Vec::new();
    let cases = recorded["cases"].as_array().unwrap();
    for case in cases {
        let text = case["query"].as_str().unwrap();
        let got = crate::admin::outcome(&api, text).await;
        let want = case["expect"].as_array().unwrap().clone();
        if got != want {
            diffs.push(format!(
                "{text}\n  want: {}\n  got:  {}",
                serde_json::Value::Array(want),
                serde_json::Value::Array(got)
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

fn init(name: &str, vers: i64, query: &str, inaugural: bool) -> Value {
    dict(vec![
        ("name", s(name)),
        ("version", Value::from(vers)),
        ("query", s(query)),
        ("inaugural", Value::Boolean(inaugural)),
    ])
}

async fn wait_pkg_var(core: &crate::util::Core, want: i64) -> Value {
    let mut got = Value::Nil;
    for _ in 0..300 {
        got = core
            .service()
            .get_pkg_var("initpkg", "storage:version")
            .await
            .unwrap()
            .unwrap_or(Value::Nil);
        if got == Value::from(want) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    got
}

/// `inits`: on the first load only the inaugural versions run (the others are recorded as
/// done); a later version runs when the package is updated; `storage:version` follows.
#[tokio::test]
async fn package_inits_run_once_per_version() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let pkg = |versions: Vec<Value>| {
        dict(vec![
            ("name", s("initpkg")),
            ("version", s("1.0.0")),
            ("inits", dict(vec![("versions", list(versions))])),
        ])
    };
    let first = vec![
        init("zero", 0, "$lib.globals.set(init:zero, $lib.true)", true),
        init("one", 1, "$lib.globals.set(init:one, $lib.true)", false),
    ];
    call(&api, "addStormPkg", vec![pkg(first.clone())])
        .await
        .unwrap();
    assert_eq!(wait_pkg_var(&core, 1).await, Value::from(1));
    let globals = "return(($lib.globals.get(init:zero), $lib.globals.get(init:one), $lib.globals.get(init:two)))";
    assert_eq!(
        call_storm(&api, globals).await,
        list(vec![Value::Boolean(true), Value::Nil, Value::Nil])
    );
    let mut second = first;
    second.push(init(
        "two",
        2,
        "$lib.globals.set(init:two, $lib.true)",
        false,
    ));
    call(&api, "addStormPkg", vec![pkg(second)]).await.unwrap();
    assert_eq!(wait_pkg_var(&core, 2).await, Value::from(2));
    assert_eq!(
        call_storm(&api, globals).await,
        list(vec![Value::Boolean(true), Value::Nil, Value::Boolean(true)])
    );
}

/// `$lib.pkg.queues`: every use needs `power-ups.<pkg>.admin`; the queues and their items
/// survive a restart.
#[tokio::test]
async fn package_queues_need_the_package_admin_perm_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);
    let (visi, iden) = user(&core, "visi").await;
    let (_, _, err) = run(&visi, "$lib.pkg.queues(foo)").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
    allow(&core, &iden, &["power-ups", "foo", "admin"], None).await;
    let (prints, _, err) = run(
        &visi,
        "$q=$lib.pkg.queues(foo).add(q) $q.puts((a, b)) $lib.print($q.size())",
    )
    .await;
    assert_eq!((prints, err), (vec!["2".to_owned()], None));
    let (_, _, err) = run(&visi, "$lib.pkg.queues(bar).add(q)").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
    // the queue object checks again on each use
    let (_, _, err) = run(&api, "$lib.pkg.queues(foo).get(q).put(c)").await;
    assert_eq!(err, None);
    core.fini().await;

    let core = open(&dirn).await;
    let api = root(&core);
    let (prints, _, err) = run(
        &api,
        "for $i in $lib.pkg.queues(foo).get(q).gets(wait=$lib.false) { $lib.print($i) }",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(prints, vec!["(0, 'a')", "(1, 'b')", "(2, 'c')"]);
    core.fini().await;
}

//! The extended model: forms, form props and universal props added at runtime through the
//! CoreApi and `$lib.model.ext`, used by Storm like built-in ones, persisted across a reopen
//! and removed when unused. Errors and messages are the reference's (2.256).

use rmpv::Value;

use crate::util::{call, dict, fresh, genr, get, list, open, root, s, user};

type Api = synapse_cell::CellApi<synapse_cortex::cortex::Cortex>;

/// Run a query: `(nodes as (form, valu, props), prints, first error (class, mesg))`.
async fn storm(
    api: &Api,
    text: &str,
) -> (
    Vec<(String, Value, Value)>,
    Vec<String>,
    Option<(String, String)>,
) {
    let mesgs = genr(api, "storm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let mut nodes = Vec::new();
    let mut prints = Vec::new();
    let mut err = None;
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str() {
            Some("node") => {
                let pode = parts[1].as_array().unwrap();
                let ndef = pode[0].as_array().unwrap();
                nodes.push((
                    ndef[0].as_str().unwrap().to_owned(),
                    ndef[1].clone(),
                    get(&pode[1], "props").clone(),
                ));
            }
            Some("print") => prints.push(get(&parts[1], "mesg").as_str().unwrap().to_owned()),
            Some("err") if err.is_none() => {
                let info = parts[1].as_array().unwrap();
                err = Some((
                    info[0].as_str().unwrap().to_owned(),
                    get(&info[1], "mesg")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
            _ => {}
        }
    }
    (nodes, prints, err)
}

fn tdef(name: &str, opts: Vec<(&str, Value)>) -> Value {
    list(vec![s(name), dict(opts)])
}

async fn err_of(api: &Api, meth: &str, args: Vec<Value>) -> (String, String, Value) {
    let err = call(api, meth, args).await.unwrap_err();
    let info = Value::Map(
        err.info()
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
            .collect(),
    );
    (err.name().to_owned(), err.mesg().to_owned(), info)
}

fn prop_of<'a>(props: &'a Value, name: &str) -> Option<&'a Value> {
    synapse_cell::map_get(props, name)
}

#[tokio::test]
async fn ext_forms_and_props_work_like_built_in_ones_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);

    let lower = vec![("lower", Value::Boolean(true))];
    call(
        &api,
        "addForm",
        vec![
            s("_foo:bar"),
            s("str"),
            dict(lower),
            dict(vec![("doc", s("a foo"))]),
        ],
    )
    .await
    .unwrap();
    call(
        &api,
        "addFormProp",
        vec![
            s("_foo:bar"),
            s("score"),
            tdef("int", vec![("min", Value::from(0))]),
            dict(vec![("doc", s("score"))]),
        ],
    )
    .await
    .unwrap();
    call(
        &api,
        "addFormProp",
        vec![
            s("inet:fqdn"),
            s("_rank"),
            tdef("int", vec![]),
            dict(vec![]),
        ],
    )
    .await
    .unwrap();
    call(
        &api,
        "addUnivProp",
        vec![s("_woot"), tdef("str", vec![]), dict(vec![("doc", s("w"))])],
    )
    .await
    .unwrap();

    // the model export shows them as the reference does
    let mdict = call(&api, "getModelDict", vec![]).await.unwrap();
    let types = get(&mdict, "types");
    let ftype = get(types, "_foo:bar");
    assert_eq!(
        get(get(ftype, "info"), "bases"),
        &list(vec![s("base"), s("str")])
    );
    assert_eq!(get(get(ftype, "info"), "doc"), &s("a foo"));
    assert_eq!(get(get(ftype, "opts"), "lower"), &Value::Boolean(true));
    let forms = get(&mdict, "forms");
    let fprops = get(get(forms, "_foo:bar"), "props");
    let score = get(fprops, "score");
    assert_eq!(get(score, "full"), &s("_foo:bar:score"));
    assert_eq!(get(score, "stortype"), &Value::from(9));
    assert_eq!(get(score, "doc"), &s("score"));
    assert!(prop_of(fprops, ".created").is_some());
    assert_eq!(get(get(fprops, "._woot"), "full"), &s("_foo:bar._woot"));
    let fqdn = get(get(forms, "inet:fqdn"), "props");
    assert_eq!(get(get(fqdn, "_rank"), "full"), &s("inet:fqdn:_rank"));
    assert_eq!(get(get(fqdn, "._woot"), "full"), &s("inet:fqdn._woot"));
    assert_eq!(get(get(get(&mdict, "univs"), "._woot"), "doc"), &s("w"));
    let defs = call(&api, "getModelDefs", vec![]).await.unwrap();
    let moddef = &defs.as_array().unwrap()[0].as_array().unwrap()[1];
    let names = |key: &str| -> Vec<String> {
        get(moddef, key)
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item.as_array().unwrap()[0].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("types").contains(&"_foo:bar".to_owned()));
    assert!(names("forms").contains(&"_foo:bar".to_owned()));
    assert!(names("univs").contains(&"._woot".to_owned()));

    // Storm: edits, lifts, filters, pivots and the model library
    let (nodes, _, err) = storm(&api, "[ _foo:bar=HeLLo :score=3 ._woot=x ]").await;
    assert_eq!(err, None);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].1, s("hello"));
    assert_eq!(prop_of(&nodes[0].2, "score"), Some(&Value::from(3)));
    assert_eq!(prop_of(&nodes[0].2, "._woot"), Some(&s("x")));
    let (_, _, err) = storm(&api, "[ _foo:bar=neg :score=-1 ]").await;
    assert_eq!(err.map(|e| e.0).as_deref(), Some("BadTypeValu"));
    let (nodes, _, err) = storm(&api, "[ inet:fqdn=vertex.link :_rank=4 ]").await;
    assert_eq!(err, None);
    assert_eq!(prop_of(&nodes[0].2, "_rank"), Some(&Value::from(4)));
    for (query, want) in [
        ("_foo:bar", 2),
        ("_foo:bar=hello", 1),
        ("_foo:bar:score>2", 1),
        ("_foo:bar:score", 1),
        ("_foo:bar._woot=x", 1),
        ("._woot", 1),
        ("inet:fqdn:_rank=4", 1),
        ("inet:fqdn +:_rank>=4", 1),
        ("_foo:bar +:score=3 -> *", 0),
        ("_foo:bar=hello | uniq", 1),
    ] {
        let (nodes, _, err) = storm(&api, query).await;
        assert_eq!(err, None, "{query}");
        assert_eq!(nodes.len(), want, "{query}");
    }
    let (_, prints, err) = storm(
        &api,
        "$f=$lib.model.form(_foo:bar) $lib.print($f.name) $lib.print($f.type.name) \
         $lib.print($lib.model.prop(_foo:bar:score).type.name) \
         $lib.print($lib.model.prop(inet:fqdn:_rank).full)",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(prints, ["_foo:bar", "_foo:bar", "int", "inet:fqdn:_rank"]);

    // in use: the removals are refused with the reference's errors
    let layer = core.service().default_view().write_layer().iden();
    let (class, mesg, _) = err_of(&api, "delForm", vec![s("_foo:bar")]).await;
    assert_eq!(
        (class.as_str(), mesg),
        (
            "CantDelForm",
            format!("Nodes still exist with form: _foo:bar in layer {layer}")
        )
    );
    let (class, mesg, _) = err_of(&api, "delFormProp", vec![s("inet:fqdn"), s("_rank")]).await;
    assert_eq!(
        (class.as_str(), mesg),
        (
            "CantDelProp",
            format!("Nodes still exist with prop: inet:fqdn:_rank in layer {layer}")
        )
    );
    let (class, mesg, _) = err_of(&api, "delUnivProp", vec![s("_woot")]).await;
    assert_eq!(
        (class.as_str(), mesg),
        (
            "CantDelUniv",
            format!("Nodes still exist with universal prop: _woot in layer {layer}")
        )
    );

    // a reopen loads the extensions before the layers are used
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let (nodes, _, err) = storm(&api, "_foo:bar:score=3").await;
    assert_eq!(err, None);
    assert_eq!(nodes.len(), 1);
    assert_eq!(prop_of(&nodes[0].2, "._woot"), Some(&s("x")));
    let (nodes, _, err) = storm(&api, "inet:fqdn:_rank").await;
    assert_eq!((nodes.len(), err), (1, None));

    // unused: removed, and gone after another reopen
    let (_, _, err) = storm(&api, "_foo:bar | delnode | inet:fqdn [ -:_rank -._woot ]").await;
    assert_eq!(err, None);
    let (class, mesg, _) = err_of(&api, "delForm", vec![s("_foo:bar")]).await;
    assert_eq!(
        (class.as_str(), mesg.as_str()),
        ("CantDelForm", "Form has extended properties: score")
    );
    call(&api, "delFormProp", vec![s("_foo:bar"), s("score")])
        .await
        .unwrap();
    call(&api, "delForm", vec![s("_foo:bar")]).await.unwrap();
    call(&api, "delFormProp", vec![s("inet:fqdn"), s("_rank")])
        .await
        .unwrap();
    call(&api, "delUnivProp", vec![s("_woot")]).await.unwrap();
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let mdict = call(&api, "getModelDict", vec![]).await.unwrap();
    assert!(prop_of(get(&mdict, "forms"), "_foo:bar").is_none());
    assert!(prop_of(get(&mdict, "types"), "_foo:bar").is_none());
    assert!(
        prop_of(
            get(get(get(&mdict, "forms"), "inet:fqdn"), "props"),
            "_rank"
        )
        .is_none()
    );
    assert!(prop_of(get(&mdict, "univs"), "._woot").is_none());
    let (_, _, err) = storm(&api, "_foo:bar").await;
    assert_eq!(err.map(|e| e.0).as_deref(), Some("NoSuchProp"));
    // the name may be used again, with another definition
    call(
        &api,
        "addForm",
        vec![s("_foo:bar"), s("int"), dict(vec![]), dict(vec![])],
    )
    .await
    .unwrap();
    let (nodes, _, err) = storm(&api, "[ _foo:bar=0x10 ]").await;
    assert_eq!(err, None);
    assert_eq!(nodes[0].1, Value::from(16));
    core.fini().await;
}

#[tokio::test]
async fn coreapi_errors_are_the_references() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    call(
        &api,
        "addForm",
        vec![s("_foo:bar"), s("str"), dict(vec![]), dict(vec![])],
    )
    .await
    .unwrap();
    call(
        &api,
        "addFormProp",
        vec![s("_foo:bar"), s("score"), tdef("int", vec![]), dict(vec![])],
    )
    .await
    .unwrap();
    let cases: Vec<(&str, Vec<Value>, &str, &str)> = vec![
        (
            "addForm",
            vec![s("foo:bar"), s("str"), dict(vec![]), dict(vec![])],
            "BadFormDef",
            "Extended form must begin with \"_\"",
        ),
        (
            "addForm",
            vec![s("_foo:bar"), s("str"), dict(vec![]), dict(vec![])],
            "DupFormName",
            "Form name already exists: _foo:bar",
        ),
        (
            "addForm",
            vec![s("_x"), s("newp"), dict(vec![]), dict(vec![])],
            "NoSuchType",
            "No type named newp.",
        ),
        (
            "addForm",
            vec![s("_Bad"), s("str"), dict(vec![]), dict(vec![])],
            "BadFormDef",
            "Invalid form name _Bad",
        ),
        (
            "addForm",
            vec![s("_x:y"), s("str"), s("nope"), dict(vec![])],
            "BadArg",
            "Form type options should be a dict.",
        ),
        (
            "addFormProp",
            vec![s("_foo:bar"), s("score"), tdef("int", vec![]), dict(vec![])],
            "DupPropName",
            "Cannot add duplicate form prop _foo:bar score",
        ),
        (
            "addFormProp",
            vec![s("inet:fqdn"), s("rank"), tdef("int", vec![]), dict(vec![])],
            "BadPropDef",
            "Extended prop must begin with \"_\" or be added to an extended form.",
        ),
        (
            "addFormProp",
            vec![s("newp:x"), s("_a"), tdef("int", vec![]), dict(vec![])],
            "NoSuchForm",
            "No form named newp:x.",
        ),
        (
            "addFormProp",
            vec![s("inet:fqdn"), s("_a"), tdef("newp", vec![]), dict(vec![])],
            "NoSuchType",
            "No type named newp.",
        ),
        (
            "addFormProp",
            vec![s("inet:fqdn"), s("_a"), s("int"), dict(vec![])],
            "BadArg",
            "Form property type definitions should be a tuple.",
        ),
        (
            "addFormProp",
            vec![s("inet:fqdn"), s("_A"), tdef("int", vec![]), dict(vec![])],
            "BadPropDef",
            "Invalid prop name _A",
        ),
        (
            "delForm",
            vec![s("foo:bar")],
            "BadFormDef",
            "Extended form must begin with \"_\"",
        ),
        (
            "delForm",
            vec![s("_nope")],
            "NoSuchForm",
            "No form named _nope.",
        ),
        (
            "delFormProp",
            vec![s("inet:fqdn"), s("fqdn")],
            "NoSuchProp",
            "No ext prop named inet:fqdn:fqdn",
        ),
        (
            "addUnivProp",
            vec![s("woot"), tdef("int", vec![]), dict(vec![])],
            "BadPropDef",
            "ext univ name must start with \"_\"",
        ),
        (
            "addUnivProp",
            vec![s("_seen"), s("int"), dict(vec![])],
            "BadArg",
            "Universal property type definitions should be a tuple.",
        ),
        (
            "delUnivProp",
            vec![s("_nope")],
            "NoSuchUniv",
            "No ext univ named _nope",
        ),
    ];
    for (meth, args, class, mesg) in cases {
        let (got, text, _) = err_of(&api, meth, args.clone()).await;
        assert_eq!(
            (got.as_str(), text.as_str()),
            (class, mesg),
            "{meth} {args:?}"
        );
    }
    call(
        &api,
        "addUnivProp",
        vec![s("_woot"), tdef("int", vec![]), dict(vec![])],
    )
    .await
    .unwrap();
    let (class, mesg, info) = err_of(
        &api,
        "addUnivProp",
        vec![s("_woot"), tdef("int", vec![]), dict(vec![])],
    )
    .await;
    assert_eq!(
        (class.as_str(), mesg.as_str()),
        (
            "DupPropName",
            "Cannot add duplicate universal property ._woot"
        )
    );
    assert_eq!(get(&info, "prop"), &s("_woot"));

    // permissions: model.form.add.<form>, model.prop.add.<form>, model.univ.add
    let (visi, iden) = user(&core, "visi").await;
    let (class, _, info) = err_of(
        &visi,
        "addForm",
        vec![s("_v:x"), s("str"), dict(vec![]), dict(vec![])],
    )
    .await;
    assert_eq!(class, "AuthDeny");
    assert_eq!(get(&info, "perm"), &s("model.form.add._v:x"));
    crate::util::allow(&core, &iden, &["model", "form", "add", "_v:x"], None).await;
    call(
        &visi,
        "addForm",
        vec![s("_v:x"), s("str"), dict(vec![]), dict(vec![])],
    )
    .await
    .unwrap();
    let (class, _, info) = err_of(
        &visi,
        "addFormProp",
        vec![s("_v:x"), s("a"), tdef("int", vec![]), dict(vec![])],
    )
    .await;
    assert_eq!(
        (class.as_str(), get(&info, "perm")),
        ("AuthDeny", &s("model.prop.add._v:x"))
    );
    let (class, _, info) = err_of(&visi, "delUnivProp", vec![s("_woot")]).await;
    assert_eq!(
        (class.as_str(), get(&info, "perm")),
        ("AuthDeny", &s("model.univ.del"))
    );
    core.fini().await;
}

#[tokio::test]
async fn storm_model_ext_library() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (_, prints, err) = storm(
        &api,
        "$lib.model.ext.addForm(_hehe:haha, int, ({}), ({\"doc\": \"The hehe:haha form.\"})) \
         $lib.model.ext.addFormProp(_hehe:haha, visi, (str, ({})), ({\"doc\": \"A type visi.\"})) \
         $lib.model.ext.addUnivProp(_size, (int, ({})), ({})) \
         $lib.model.ext.addTagProp(score, (int, ({})), ({})) \
         $lib.model.ext.addFormProp(inet:ipv4, _tick, (time, ({})), ({})) \
         [ _hehe:haha=10 :visi=lolz ._size=3 +#foo:score=9 ] \
         $lib.print($lib.model.prop(_hehe:haha:visi).full) \
         $m=$lib.model.ext.getExtModel() $lib.print($lib.len($m.forms)) $lib.print($lib.len($m.props))",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(prints, ["_hehe:haha:visi", "1", "2"]);

    // a copy of the extended model goes into another Cortex
    let ext = storm_value(&api, "return($lib.model.ext.getExtModel())").await;
    let (_dir2, core2) = fresh().await;
    let api2 = root(&core2);
    let added = storm_value_opts(
        &api2,
        "return($lib.model.ext.addExtModel($m))",
        vec![("m", ext.clone())],
    )
    .await;
    assert_eq!(added, Value::Boolean(true));
    assert_eq!(
        storm_value(&api2, "return($lib.model.ext.getExtModel())").await,
        ext
    );
    // the same again is fine; another definition is refused
    let again = storm_value_opts(
        &api2,
        "return($lib.model.ext.addExtModel($m))",
        vec![("m", ext.clone())],
    )
    .await;
    assert_eq!(again, Value::Boolean(true));
    let (_, _, err) = storm(
        &api2,
        "$lib.model.ext.addExtModel(({\"forms\": [[\"_hehe:haha\", \"str\", {}, {}]]}))",
    )
    .await;
    assert_eq!(
        err,
        Some((
            "BadFormDef".into(),
            "Extended form definition differs from existing definition for _hehe:haha.".into()
        ))
    );
    core2.fini().await;

    // force removes the props from the nodes first
    let (_, _, err) = storm(&api, "$lib.model.ext.delFormProp(_hehe:haha, visi)").await;
    assert_eq!(err.map(|e| e.0).as_deref(), Some("CantDelProp"));
    let (_, _, err) = storm(
        &api,
        "$lib.model.ext.delFormProp(_hehe:haha, visi, force=$lib.true) \
         $lib.model.ext.delUnivProp(_size, force=$lib.true) \
         $lib.model.ext.delTagProp(score, force=$lib.true)",
    )
    .await;
    assert_eq!(err, None);
    let (nodes, _, err) = storm(&api, "_hehe:haha").await;
    assert_eq!(err, None);
    assert_eq!(prop_of(&nodes[0].2, "visi"), None);
    assert_eq!(prop_of(&nodes[0].2, "._size"), None);
    let (_, prints, _) = storm(&api, "$lib.print($lib.model.ext.getExtModel())").await;
    assert!(!prints[0].contains("visi"), "{prints:?}");

    // permissions
    let (visi, _) = user(&core, "visi").await;
    for (query, perm) in [
        (
            "$lib.model.ext.addForm(_v:x, int, ({}), ({}))",
            "model.form.add._v:x",
        ),
        (
            "$lib.model.ext.delForm(_hehe:haha)",
            "model.form.del._hehe:haha",
        ),
        (
            "$lib.model.ext.addFormProp(_hehe:haha, x, (int, ({})), ({}))",
            "model.prop.add._hehe:haha",
        ),
        (
            "$lib.model.ext.delFormProp(_hehe:haha, x)",
            "model.prop.del._hehe:haha",
        ),
        (
            "$lib.model.ext.addUnivProp(_x, (int, ({})), ({}))",
            "model.univ.add",
        ),
        ("$lib.model.ext.delUnivProp(_x)", "model.univ.del"),
    ] {
        let (_, _, err) = storm(&visi, query).await;
        let (class, mesg) = err.unwrap();
        assert_eq!(class, "AuthDeny", "{query}");
        assert!(mesg.contains(perm), "{query}: {mesg}");
    }
    let (_, _, err) = storm(&visi, "$lib.model.ext.addExtModel(({}))").await;
    assert_eq!(
        err,
        Some((
            "AuthDeny".into(),
            "This action requires global admin permissions.".into()
        ))
    );
    core.fini().await;
}

async fn storm_value(api: &Api, text: &str) -> Value {
    storm_value_opts(api, text, vec![]).await
}

async fn storm_value_opts(api: &Api, text: &str, vars: Vec<(&str, Value)>) -> Value {
    call(
        api,
        "callStorm",
        vec![s(text), dict(vec![("vars", dict(vars))])],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn ext_types_and_edges_persist_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);
    let edge = |n1: Value, verb: &str, n2: Value| list(vec![n1, s(verb), n2]);
    call(
        &api,
        "addType",
        vec![
            s("_my:int"),
            s("int"),
            dict(vec![("min", Value::from(5))]),
            dict(vec![("doc", s("mine"))]),
        ],
    )
    .await
    .unwrap();
    // a form and a prop of the extended type
    call(
        &api,
        "addForm",
        vec![
            s("_my:form"),
            s("_my:int"),
            dict(vec![("max", Value::from(100))]),
            dict(vec![]),
        ],
    )
    .await
    .unwrap();
    call(
        &api,
        "addFormProp",
        vec![
            s("inet:fqdn"),
            s("_myint"),
            tdef("_my:int", vec![]),
            dict(vec![]),
        ],
    )
    .await
    .unwrap();
    call(
        &api,
        "addEdge",
        vec![
            edge(Value::Nil, "_seen", s("_my:form")),
            dict(vec![("doc", s("seen"))]),
        ],
    )
    .await
    .unwrap();
    let cases: Vec<(&str, Vec<Value>, &str, &str)> = vec![
        (
            "addType",
            vec![s("my:int"), s("int"), dict(vec![]), dict(vec![])],
            "BadTypeDef",
            "Extended type must begin with \"_\".",
        ),
        (
            "addType",
            vec![s("_my:int"), s("int"), dict(vec![]), dict(vec![])],
            "DupTypeName",
            "Type already exists: _my:int.",
        ),
        (
            "addType",
            vec![s("_x"), s("newp"), dict(vec![]), dict(vec![])],
            "NoSuchType",
            "Specified base type newp does not exist.",
        ),
        (
            "addEdge",
            vec![edge(Value::Nil, "_seen", s("_my:form")), dict(vec![])],
            "DupEdgeType",
            "Edge already exists: None -(_seen)> _my:form.",
        ),
        (
            "addEdge",
            vec![edge(Value::Nil, "seen", Value::Nil), dict(vec![])],
            "BadEdgeDef",
            "Extended edge verb must begin with \"_\"; got seen",
        ),
        (
            "addEdge",
            vec![edge(s("newp:x"), "_x", Value::Nil), dict(vec![])],
            "NoSuchForm",
            "No form named newp:x.",
        ),
    ];
    for (meth, args, class, mesg) in cases {
        let (got, text, _) = err_of(&api, meth, args.clone()).await;
        assert_eq!(
            (got.as_str(), text.as_str()),
            (class, mesg),
            "{meth} {args:?}"
        );
    }
    let (_, _, err) = storm(&api, "[ _my:form=3 ]").await;
    assert_eq!(err.map(|e| e.0).as_deref(), Some("BadTypeValu"));
    let (nodes, _, err) = storm(&api, "[ _my:form=50 ]").await;
    assert_eq!((nodes.len(), err), (1, None));
    let (nodes, _, err) = storm(&api, "[ inet:fqdn=woot.com :_myint=7 ]").await;
    assert_eq!((nodes.len(), err), (1, None));
    let (_, _, err) = storm(&api, "$lib.model.ext.delType(_my:int)").await;
    assert_eq!(
        err,
        Some((
            "CantDelType".into(),
            "Cannot delete type _my:int as it is still in use by properties.".into()
        ))
    );

    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let (nodes, _, err) = storm(&api, "_my:form=50 inet:fqdn:_myint>6").await;
    assert_eq!((nodes.len(), err), (2, None));
    let mdict = call(&api, "getModelDict", vec![]).await.unwrap();
    assert_eq!(
        get(get(get(get(&mdict, "types"), "_my:int"), "opts"), "min"),
        &Value::from(5)
    );
    assert_eq!(
        get(get(get(get(&mdict, "types"), "_my:form"), "info"), "bases"),
        &list(vec![s("base"), s("int"), s("_my:int")])
    );
    let edges = get(&mdict, "edges").as_array().unwrap();
    assert!(edges.contains(&list(vec![
        edge(Value::Nil, "_seen", s("_my:form")),
        dict(vec![("doc", s("seen"))])
    ])));
    let ext = storm_value(&api, "return($lib.model.ext.getExtModel())").await;
    assert_eq!(get(&ext, "types").as_array().unwrap().len(), 1);
    assert_eq!(get(&ext, "edges").as_array().unwrap().len(), 1);

    // removal, in dependency order
    let (_, _, err) = storm(
        &api,
        "_my:form | delnode | inet:fqdn [ -:_myint ] | spin | \
         $lib.model.ext.delEdge(*, _seen, _my:form) \
         $lib.model.ext.delFormProp(inet:fqdn, _myint) \
         $lib.model.ext.delForm(_my:form) $lib.model.ext.delType(_my:int)",
    )
    .await;
    assert_eq!(err, None);
    let (_, _, err) = storm(&api, "$lib.model.ext.delEdge(*, _seen, _my:form)").await;
    assert_eq!(
        err,
        Some((
            "NoSuchEdge".into(),
            "No edge defined for None -(_seen)> _my:form.".into()
        ))
    );
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let ext = storm_value(&api, "return($lib.model.ext.getExtModel())").await;
    assert_eq!(
        ext,
        dict(vec![(
            "version",
            list(vec![Value::from(1), Value::from(0)])
        )])
    );
    core.fini().await;
}

#[tokio::test]
async fn movetag_keeps_intervals_and_tag_props() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (_, _, err) = storm(&api, "$lib.model.ext.addTagProp(score, (int, ({})), ({}))").await;
    assert_eq!(err, None);
    let (_, _, err) = storm(
        &api,
        "[ inet:ipv4=1.1.1.1 +#mal.apt1.x=2020 +#mal.apt1:score=10 +#mal.apt1.x:score=5 ]",
    )
    .await;
    assert_eq!(err, None);
    let (_, prints, err) = storm(&api, "movetag mal.apt1 threat").await;
    assert_eq!(err, None);
    assert_eq!(prints, vec!["moved tags on 1 nodes.".to_owned()]);
    // recorded from the reference (2.256)
    let (_, prints, err) = storm(
        &api,
        "inet:ipv4 $lib.print(($node.pack().1.tags, $node.pack().1.tagprops))",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(
        prints,
        vec![
            "[{'mal': (None, None), 'threat': (None, None), 'threat.x': (1577836800000, 1577836800001)}, {'threat.x': {'score': 5}, 'threat': {'score': 10}}]"
                .to_owned()
        ]
    );
}

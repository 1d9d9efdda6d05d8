//! The CoreApi telepath methods, called through cell sessions.

use rmpv::Value;
use synapse_cortex::nodeedit::buid;

use crate::util::*;

fn tagged(tag: &str) -> Value {
    dict(vec![(
        "tags",
        dict(vec![(tag, list(vec![Value::Nil, Value::Nil]))]),
    )])
}

#[tokio::test]
async fn add_nodes_yields_committed_podes_and_skips_bad_items() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let defs = list(vec![
        nodedef(
            "inet:ipv4",
            s("1.2.3.4"),
            dict(vec![
                (
                    "props",
                    dict(vec![("asn", Value::from(10)), (".created", Value::from(5))]),
                ),
                (
                    "tags",
                    dict(vec![(
                        "foo.bar",
                        list(vec![
                            Value::from(1577836800000i64),
                            Value::from(1609459200000i64),
                        ]),
                    )]),
                ),
            ]),
        ),
        nodedef("inet:ipv4", s("bad"), dict(vec![])),
        nodedef("inet:nope", s("x"), dict(vec![])),
        list(vec![s("not a node def")]),
        nodedef(
            "inet:dns:a",
            list(vec![s("vertex.link"), s("8.8.8.8")]),
            tagged("rep.vt"),
        ),
    ]);
    let podes = genr(&api, "addNodes", vec![defs]).await.unwrap();
    assert_eq!(podes.len(), 2, "{podes:?}");

    let (form, valu) = ndef_of(&podes[0]);
    assert_eq!((form.as_str(), valu), ("inet:ipv4", Value::from(16909060)));
    let info = &podes[0].as_array().unwrap()[1];
    assert_eq!(
        get(info, "iden").as_str(),
        Some("20153b758f9d5eaaa38e4f4a65c36da797c3e59e549620fa7c4895e1a920991f")
    );
    let props = get(info, "props");
    assert_eq!(get(props, "asn"), &Value::from(10));
    assert_eq!(get(props, "type"), &s("unicast"));
    // .created is set by the cortex, not taken from the definition
    assert!(get(props, ".created").as_i64().unwrap() > 1_600_000_000_000);
    let tags = get(info, "tags");
    assert_eq!(get(tags, "foo"), &list(vec![Value::Nil, Value::Nil]));
    assert_eq!(
        get(tags, "foo.bar"),
        &list(vec![
            Value::from(1577836800000i64),
            Value::from(1609459200000i64)
        ])
    );
    assert_eq!(get(info, "tagprops"), &dict(vec![]));
    assert_eq!(get(info, "nodedata"), &dict(vec![]));
    assert!(synapse_cell::map_get(info, "path").is_none());

    // secondary nodes were made: the asn, the dns:a's fqdn and ipv4, the tags
    let view = core.service().default_view();
    for (form, valu) in [
        ("inet:asn", Value::from(10)),
        ("inet:fqdn", s("vertex.link")),
        ("inet:ipv4", Value::from(0x08080808)),
        ("syn:tag", s("foo")),
        ("syn:tag", s("rep.vt")),
    ] {
        assert!(
            view.get_node(buid(form, &valu)).await.unwrap().is_some(),
            "{form}={valu}"
        );
    }
    // an empty list adds nothing
    assert!(
        genr(&api, "addNodes", vec![list(vec![])])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn add_nodes_in_many_batches_keeps_order() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let count = 2500u32;
    let defs = (0..count)
        .map(|i| nodedef("inet:ipv4", Value::from(i), tagged("bulk")))
        .collect();
    let podes = genr(&api, "addNodes", vec![list(defs)]).await.unwrap();
    assert_eq!(podes.len(), count as usize);
    for (i, pode) in podes.iter().enumerate() {
        assert_eq!(ndef_of(pode).1, Value::from(i as u32));
    }
    let view = core.service().default_view();
    assert_eq!(
        view.count_form("inet:ipv4").await.unwrap(),
        i64::from(count)
    );
    assert_eq!(
        view.count_tag("bulk", None).await.unwrap(),
        i64::from(count)
    );
}

/// A batch is handed to the layer in slices while later slices are normalized: a node
/// edited in several slices, and an fqdn whose parent changes in a later slice, end as if
/// the definitions were added one by one.
#[tokio::test]
async fn add_nodes_across_slices_of_a_batch_merge_as_one_by_one() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let ival = |min: i64, max: i64| list(vec![Value::from(min), Value::from(max)]);
    let ipv4 = |asn: i64, min: i64, max: i64| {
        nodedef(
            "inet:ipv4",
            s("1.1.1.1"),
            dict(vec![
                ("props", dict(vec![("asn", Value::from(asn))])),
                ("tags", dict(vec![("seen", ival(min, max))])),
            ]),
        )
    };
    let mut defs: Vec<Value> = (0..900u32)
        .map(|i| nodedef("inet:ipv4", Value::from(0x0a00_0000 + i), tagged("fill")))
        .collect();
    defs[0] = ipv4(1, 1_262_304_000_000, 1_293_840_000_000);
    defs[1] = nodedef("inet:fqdn", s("a.woot.com"), dict(vec![]));
    defs[400] = ipv4(2, 1_420_070_400_000, 1_451_606_400_000);
    defs[800] = nodedef(
        "inet:fqdn",
        s("woot.com"),
        dict(vec![("props", dict(vec![("issuffix", Value::from(true))]))]),
    );
    let podes = genr(&api, "addNodes", vec![list(defs)]).await.unwrap();
    assert_eq!(podes.len(), 900);
    // A pode shows its node as its slice left it (or a later one did): the second shows the
    // later asn and the merged interval, the first at least its own.
    let info = &podes[400].as_array().unwrap()[1];
    assert_eq!(get(get(info, "props"), "asn"), &Value::from(2));
    assert_eq!(
        get(get(info, "tags"), "seen"),
        &ival(1_262_304_000_000, 1_451_606_400_000)
    );
    let info = &podes[0].as_array().unwrap()[1];
    let asn = get(get(info, "props"), "asn");
    assert!(*asn == Value::from(1) || *asn == Value::from(2), "{asn:?}");
    let seen = get(get(info, "tags"), "seen").as_array().unwrap();
    assert_eq!(seen[0], Value::from(1_262_304_000_000_i64));
    // woot.com became a suffix after its child was added: the child is a zone now.
    let view = core.service().default_view();
    let child = view
        .get_node(buid("inet:fqdn", &s("a.woot.com")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.get("iszone"), Some(&Value::from(1)));
    assert_eq!(child.get("zone"), Some(&s("a.woot.com")));
    assert_eq!(view.count_form("inet:ipv4").await.unwrap(), 897);
    assert_eq!(view.count_tag("fill", None).await.unwrap(), 896);
}

/// The next slice's nodes are read while the slab thread still writes the previous one: a
/// node that slice touched is read after it, so edits of adjacent slices merge (here a tag
/// interval widened by the first definition of the next slice, and an fqdn created by a
/// hook in one slice and made a suffix in the next: definitions 125-249 and 250-374 are
/// two slices).
#[tokio::test]
async fn add_nodes_in_adjacent_slices_see_each_other() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let ival = |min: i64, max: i64| list(vec![Value::from(min), Value::from(max)]);
    let seen = |min: i64, max: i64| {
        nodedef(
            "inet:ipv4",
            s("2.2.2.2"),
            dict(vec![("tags", dict(vec![("seen", ival(min, max))]))]),
        )
    };
    let mut defs: Vec<Value> = (0..400u32)
        .map(|i| nodedef("inet:ipv4", Value::from(0x0b00_0000 + i), tagged("fill")))
        .collect();
    for (slice, at) in [(0, 124), (1, 249), (2, 374)] {
        let start = 1_262_304_000_000 + slice * 1_000_000;
        defs[at] = seen(start, start + 1000);
        defs[at + 1] = seen(start + 2000, start + 3000);
    }
    defs[240] = nodedef("inet:fqdn", s("x.kid.com"), dict(vec![]));
    defs[300] = nodedef(
        "inet:fqdn",
        s("kid.com"),
        dict(vec![("props", dict(vec![("issuffix", Value::from(true))]))]),
    );
    let podes = genr(&api, "addNodes", vec![list(defs)]).await.unwrap();
    assert_eq!(podes.len(), 400);
    let view = core.service().default_view();
    let node = view
        .get_node(buid("inet:ipv4", &Value::from(0x0202_0202)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        node.tag("seen"),
        Some((Some(1_262_304_000_000), Some(1_262_306_003_000)))
    );
    let child = view
        .get_node(buid("inet:fqdn", &s("x.kid.com")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.get("zone"), Some(&s("x.kid.com")));
    assert_eq!(child.get("iszone"), Some(&Value::from(1)));
}

#[tokio::test]
async fn add_node_and_node_permissions() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let pode = call(
        &api,
        "addNode",
        vec![s("inet:fqdn"), s("woot.com"), Value::Nil],
    )
    .await
    .unwrap();
    let props = get(&pode.as_array().unwrap()[1], "props");
    assert_eq!(get(props, "zone"), &s("woot.com"));
    assert_eq!(get(props, "iszone"), &Value::from(1));
    let err = call(&api, "addNode", vec![s("inet:ipv4"), s("nope")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadTypeValu");

    let (visi, iden) = user(&core, "visi").await;
    let layer = core.service().default_view().write_layer().iden();
    let defs = list(vec![nodedef("inet:ipv4", s("1.2.3.4"), tagged("foo"))]);
    let err = genr(&visi, "addNodes", vec![defs.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!(
            "User 'visi' ({iden}) must have permission node.add.inet:ipv4 on object {layer} (layer)."
        )
    );
    assert_eq!(
        err.get("perm").and_then(Value::as_str),
        Some("node.add.inet:ipv4")
    );
    let err = call(&visi, "addNode", vec![s("inet:fqdn"), s("visi.com")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");

    // allowed on the layer's gate: tags need no permission of their own here, as in the
    // reference's addNodes
    allow(&core, &iden, &["node", "add", "inet:ipv4"], Some(&layer)).await;
    let podes = genr(&visi, "addNodes", vec![defs]).await.unwrap();
    assert_eq!(podes.len(), 1);
    // a rule on another gate does not count
    let viewiden = core.service().default_view().iden();
    allow(&core, &iden, &["node", "add", "inet:fqdn"], Some(&viewiden)).await;
    assert!(
        call(&visi, "addNode", vec![s("inet:fqdn"), s("visi.com")])
            .await
            .is_err()
    );
    allow(&core, &iden, &["node", "add", "inet:fqdn"], None).await;
    call(&visi, "addNode", vec![s("inet:fqdn"), s("visi.com")])
        .await
        .unwrap();
}

#[tokio::test]
async fn model_export_matches_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let dict_valu = call(&api, "getModelDict", vec![]).await.unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/model-2.256.json"
    ))
    .unwrap();
    let want = synapse_cell::from_json(&serde_json::from_str(&text).unwrap());
    assert_eq!(
        synapse_cell::to_json(&dict_valu),
        synapse_cell::to_json(&want)
    );

    let defs = call(&api, "getModelDefs", vec![]).await.unwrap();
    let pair = defs.as_array().unwrap()[0].as_array().unwrap();
    assert_eq!(pair[0], s("all"));
    for key in [
        "ctors",
        "types",
        "forms",
        "univs",
        "edges",
        "tagprops",
        "interfaces",
    ] {
        assert!(synapse_cell::map_get(&pair[1], key).is_some(), "{key}");
    }

    call(
        &api,
        "addTagProp",
        vec![
            s("score"),
            list(vec![s("int"), dict(vec![])]),
            dict(vec![("doc", s("A test score."))]),
        ],
    )
    .await
    .unwrap();
    let dict_valu = call(&api, "getModelDict", vec![]).await.unwrap();
    let score = get(get(&dict_valu, "tagprops"), "score");
    assert_eq!(get(score, "stortype"), &Value::from(9));
    assert_eq!(get(score, "type"), &list(vec![s("int"), dict(vec![])]));
    let defs = call(&api, "getModelDefs", vec![]).await.unwrap();
    let tagprops = get(
        &defs.as_array().unwrap()[0].as_array().unwrap()[1],
        "tagprops",
    );
    assert_eq!(
        tagprops,
        &list(vec![list(vec![
            s("score"),
            list(vec![s("int"), dict(vec![])]),
            dict(vec![("doc", s("A test score."))]),
        ])])
    );

    let forms = call(&api, "getFormsByPrefix", vec![s("inet:dns")])
        .await
        .unwrap();
    let forms = forms.as_array().unwrap();
    assert_eq!(forms.len(), 15);
    assert_eq!(forms[0], s("inet:dns:a"));
    assert_eq!(forms[14], s("inet:dns:wild:aaaa"));

    let info = call(&api, "getCoreInfoV2", vec![]).await.unwrap();
    assert_eq!(
        get(&info, "version"),
        &list(vec![2.into(), 256.into(), 0.into()])
    );
    assert_eq!(get(&info, "modeldict"), &dict_valu);
    assert!(synapse_cell::map_get(get(&info, "stormdocs"), "commands").is_some());
    let feeds = call(&api, "getFeedFuncs", vec![]).await.unwrap();
    assert_eq!(get(&feeds.as_array().unwrap()[0], "name"), &s("syn.nodes"));
    let mods = call(&api, "getCoreMods", vec![]).await.unwrap();
    assert_eq!(mods.as_array().unwrap().len(), 30);
    let (visi, _) = user(&core, "visi").await;
    assert_eq!(
        call(&visi, "getCoreMods", vec![]).await.unwrap_err().name(),
        "AuthDeny"
    );
}

#[tokio::test]
async fn norms_have_the_reference_shapes() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let res = call(
        &api,
        "getPropNorm",
        vec![s("inet:url"), s("HTTP://Vertex.LINK:80/a")],
    )
    .await
    .unwrap();
    let want = list(vec![
        s("http://vertex.link:80/a"),
        dict(vec![(
            "subs",
            dict(vec![
                ("proto", s("http")),
                ("path", s("/a")),
                ("params", s("")),
                ("fqdn", s("vertex.link")),
                ("port", Value::from(80)),
                ("base", s("http://vertex.link:80/a")),
            ]),
        )]),
    ]);
    assert_eq!(res, want);
    let res = call(
        &api,
        "getTypeNorm",
        vec![s("inet:dns:a"), list(vec![s("vertex.link"), s("1.2.3.4")])],
    )
    .await
    .unwrap();
    let want = list(vec![
        list(vec![s("vertex.link"), Value::from(16909060)]),
        dict(vec![
            (
                "subs",
                dict(vec![
                    ("fqdn", s("vertex.link")),
                    ("fqdn:host", s("vertex")),
                    ("fqdn:domain", s("link")),
                    ("ipv4", Value::from(16909060)),
                    ("ipv4:type", s("unicast")),
                ]),
            ),
            (
                "adds",
                list(vec![
                    list(vec![
                        s("inet:fqdn"),
                        s("vertex.link"),
                        dict(vec![(
                            "subs",
                            dict(vec![("host", s("vertex")), ("domain", s("link"))]),
                        )]),
                    ]),
                    list(vec![
                        s("inet:ipv4"),
                        Value::from(16909060),
                        dict(vec![("subs", dict(vec![("type", s("unicast"))]))]),
                    ]),
                ]),
            ),
        ]),
    ]);
    assert_eq!(res, want);
    let res = call(&api, "getTypeNorm", vec![s("syn:tag"), s("foo.bar")])
        .await
        .unwrap();
    assert_eq!(
        res,
        list(vec![
            s("foo.bar"),
            dict(vec![
                (
                    "subs",
                    dict(vec![
                        ("base", s("bar")),
                        ("depth", Value::from(1)),
                        ("up", s("foo"))
                    ])
                ),
                ("toks", list(vec![s("foo"), s("bar")])),
            ]),
        ])
    );
    let res = call(&api, "getTypeNorm", vec![s("time"), s("2020")])
        .await
        .unwrap();
    assert_eq!(res, list(vec![Value::from(1577836800000i64), dict(vec![])]));

    let err = call(&api, "getPropNorm", vec![s("inet:nope"), s("x")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchProp");
    assert_eq!(err.mesg(), "The property inet:nope does not exist.");
    let err = call(&api, "getTypeNorm", vec![s("nope"), s("x")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchType");
    assert_eq!(err.mesg(), "The type nope does not exist.");
    let err = call(&api, "getTypeNorm", vec![s("inet:ipv4"), s("x")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadTypeValu");
}

#[tokio::test]
async fn tag_props_are_validated_used_and_removed() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let tdef = list(vec![s("int"), dict(vec![])]);
    let info = dict(vec![("doc", s("x"))]);
    let add = |name: &str, tdef: Value, info: Value| {
        let api = &api;
        let name = s(name);
        async move { call(api, "addTagProp", vec![name, tdef, info]).await }
    };
    assert_eq!(
        add("Bad Name", tdef.clone(), info.clone())
            .await
            .unwrap_err()
            .name(),
        "BadPropDef"
    );
    assert_eq!(
        add("x", s("int"), info.clone()).await.unwrap_err().name(),
        "BadArg"
    );
    assert_eq!(
        add("x", tdef.clone(), s("doc")).await.unwrap_err().name(),
        "BadArg"
    );
    assert_eq!(
        add("x", list(vec![s("newp"), dict(vec![])]), info.clone())
            .await
            .unwrap_err()
            .name(),
        "NoSuchType"
    );
    add("score", tdef.clone(), info.clone()).await.unwrap();
    assert_eq!(
        add("score", tdef.clone(), info.clone())
            .await
            .unwrap_err()
            .name(),
        "DupPropName"
    );

    let def = nodedef(
        "inet:ipv4",
        Value::from(5),
        dict(vec![(
            "tagprops",
            dict(vec![("rep.vt", dict(vec![("score", s("10"))]))]),
        )]),
    );
    let podes = genr(&api, "addNodes", vec![list(vec![def])]).await.unwrap();
    let info = &podes[0].as_array().unwrap()[1];
    assert_eq!(
        get(info, "tagprops"),
        &dict(vec![("rep.vt", dict(vec![("score", Value::from(10))]))])
    );
    assert!(synapse_cell::map_get(get(info, "tags"), "rep.vt").is_some());

    let err = call(&api, "delTagProp", vec![s("score")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "CantDelProp");
    let view = core.service().default_view();
    let mut editor = view.editor(
        synapse_cortex::nodeedit::EditMeta::now("root"),
        synapse_cortex::view::AllowAll::arc(),
    );
    let node = buid("inet:ipv4", &Value::from(5));
    editor.del_tagprop(&node, "rep.vt", "score").await.unwrap();
    editor.apply().await.unwrap();
    call(&api, "delTagProp", vec![s("score")]).await.unwrap();
    let err = call(&api, "delTagProp", vec![s("score")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchTagProp");
    let dict_valu = call(&api, "getModelDict", vec![]).await.unwrap();
    assert_eq!(get(&dict_valu, "tagprops"), &dict(vec![]));

    let (visi, _) = user(&core, "visi").await;
    let err = call(&visi, "addTagProp", vec![s("other"), tdef, dict(vec![])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert!(
        err.mesg()
            .ends_with("must have permission model.tagprop.add"),
        "{}",
        err.mesg()
    );
}

#[tokio::test]
async fn storm_globals_and_their_permissions() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let valu = dict(vec![("x", Value::from(1))]);
    assert_eq!(
        call(&api, "setStormVar", vec![s("foo"), valu.clone()])
            .await
            .unwrap(),
        valu
    );
    assert_eq!(
        call(&api, "getStormVar", vec![s("foo")]).await.unwrap(),
        valu
    );
    assert_eq!(
        call(&api, "popStormVar", vec![s("foo")]).await.unwrap(),
        valu
    );
    assert_eq!(
        call(&api, "getStormVar", vec![s("foo"), Value::from(5)])
            .await
            .unwrap(),
        Value::from(5)
    );
    assert_eq!(
        call(&api, "popStormVar", vec![s("foo")]).await.unwrap(),
        Value::Nil
    );

    let (visi, iden) = user(&core, "visi").await;
    let err = call(&visi, "getStormVar", vec![s("foo")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!("User 'visi' ({iden}) must have permission globals.get.foo")
    );
    allow(&core, &iden, &["globals", "get"], None).await;
    assert_eq!(
        call(&visi, "getStormVar", vec![s("foo")]).await.unwrap(),
        Value::Nil
    );
    assert!(
        call(&visi, "setStormVar", vec![s("foo"), Value::from(1)])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn layer_edits_are_followed() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    genr(
        &api,
        "addNodes",
        vec![list(vec![nodedef(
            "inet:ipv4",
            Value::from(1),
            dict(vec![]),
        )])],
    )
    .await
    .unwrap();
    let items = genr(
        &api,
        "syncLayerNodeEdits",
        vec![Value::from(0), Value::Nil, Value::Boolean(false)],
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    let item = items[0].as_array().unwrap();
    assert_eq!(item[0], Value::from(0));
    let edits = item[1].as_array().unwrap();
    // buids travel as raw bytes
    let buids: Vec<&Value> = edits.iter().map(|e| &e.as_array().unwrap()[0]).collect();
    assert!(
        buids
            .iter()
            .all(|b| matches!(b, Value::Binary(b) if b.len() == 32))
    );

    // waiting: a later batch arrives on the open stream
    let api2 = root(&core);
    let follow = tokio::spawn(async move {
        use futures::StreamExt;
        let synapse_cell::Reply::Genr(mut items) = api2
            .call(
                "syncLayerNodeEdits",
                synapse_cell::Args::positional(vec![Value::from(1)]),
            )
            .await
            .unwrap()
        else {
            panic!("not a generator")
        };
        items.next().await.unwrap().unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    genr(
        &api,
        "addNodes",
        vec![list(vec![nodedef(
            "inet:ipv4",
            Value::from(2),
            dict(vec![]),
        )])],
    )
    .await
    .unwrap();
    let item = follow.await.unwrap();
    assert_eq!(item.as_array().unwrap()[0], Value::from(1));

    let err = genr(
        &api,
        "syncLayerNodeEdits",
        vec![Value::from(0), s("ffffffffffffffffffffffffffffffff")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "NoSuchLayer");
    let (visi, _) = user(&core, "visi").await;
    let err = genr(
        &visi,
        "syncLayerNodeEdits",
        vec![Value::from(0), Value::Nil, Value::Boolean(false)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");

    // saveLayerNodeEdits applies raw edits (admin only)
    let layer = core.service().default_view().write_layer().iden();
    let res = call(
        &api,
        "saveLayerNodeEdits",
        vec![s(&layer), item[1].clone(), dict(vec![])],
    )
    .await
    .unwrap();
    assert_eq!(res.as_array().unwrap()[0], Value::Nil, "nothing changed");
    assert_eq!(
        call(
            &visi,
            "saveLayerNodeEdits",
            vec![s(&layer), list(vec![]), dict(vec![])]
        )
        .await
        .unwrap_err()
        .name(),
        "AuthDeny"
    );
}

#[tokio::test]
async fn views_gates_and_a_reopen_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);
    let cortex = core.service().clone();
    let view = cortex.default_view();
    let layer = view.write_layer();
    let root_iden = core.cell().auth().root_iden();
    assert_eq!(view.def().creator, root_iden);
    assert_eq!(layer.def().creator, root_iden);
    let rootdef = call(&api, "getCellUser", vec![]).await.unwrap();
    let gates = get(&rootdef, "authgates");
    assert_eq!(
        get(get(gates, &view.iden()), "admin"),
        &Value::Boolean(true)
    );
    assert_eq!(
        get(get(gates, &layer.iden()), "admin"),
        &Value::Boolean(true)
    );

    // every user reads the default view
    let (visi, iden) = user(&core, "visi").await;
    let vdef = call(&visi, "getViewDef", vec![s(&view.iden())])
        .await
        .unwrap();
    assert_eq!(get(&vdef, "name"), &s("default"));
    assert_eq!(
        get(&get(&vdef, "layers").as_array().unwrap()[0], "iden"),
        &s(&layer.iden())
    );
    assert_eq!(
        call(
            &visi,
            "getViewDef",
            vec![s("ffffffffffffffffffffffffffffffff")]
        )
        .await
        .unwrap(),
        Value::Nil
    );

    // a fork: its creator administers it, others cannot read it
    let rootuser = cortex.user(&root_iden).unwrap();
    let fork = cortex
        .fork_view(&view.iden(), Some("fork".into()), &rootuser)
        .await
        .unwrap();
    let err = call(&visi, "getViewDef", vec![s(&fork.iden())])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!(
            "User 'visi' ({iden}) must have permission view.read on object {} (view).",
            fork.iden()
        )
    );
    assert!(
        core.cell()
            .auth()
            .gate(&fork.write_layer().iden())
            .is_some()
    );

    // data of every kind
    call(
        &api,
        "addTagProp",
        vec![s("score"), list(vec![s("int"), dict(vec![])]), dict(vec![])],
    )
    .await
    .unwrap();
    call(&api, "setStormVar", vec![s("persisted"), Value::from(42)])
        .await
        .unwrap();
    let defs = (0..100u32)
        .map(|i| nodedef("inet:fqdn", s(&format!("h{i}.restart.link")), dict(vec![])))
        .collect();
    genr(&api, "addNodes", vec![list(defs)]).await.unwrap();
    let fork_iden = fork.iden();
    drop((api, visi, view, layer, fork, cortex));
    core.fini().await;
    drop(core);

    let core = open(&dirn).await;
    let api = root(&core);
    let cortex = core.service().clone();
    let view = cortex.default_view();
    assert_eq!(view.count_form("inet:fqdn").await.unwrap(), 102);
    assert_eq!(
        call(&api, "getStormVar", vec![s("persisted")])
            .await
            .unwrap(),
        Value::from(42)
    );
    let dict_valu = call(&api, "getModelDict", vec![]).await.unwrap();
    assert!(synapse_cell::map_get(get(&dict_valu, "tagprops"), "score").is_some());
    assert!(cortex.views().view(&fork_iden).is_some());
    let visi = core.session(&iden, synapse_cell::ConnInfo::local());
    call(&visi, "getViewDef", vec![s(&view.iden())])
        .await
        .unwrap();
    assert!(
        call(&visi, "getViewDef", vec![s(&fork_iden)])
            .await
            .is_err()
    );
    // the first-boot rules are not added twice
    let all = core
        .cell()
        .auth()
        .role(&core.cell().auth().all_role_iden())
        .unwrap();
    let rules = all.gate(&view.iden()).unwrap().rules().len();
    assert_eq!(rules, 1);
    cortex.del_view(&fork_iden).await.unwrap();
    assert!(core.cell().auth().gate(&fork_iden).is_none());
    core.fini().await;
}

#[tokio::test]
async fn cell_api_and_feeds() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    assert_eq!(
        call(&api, "getCellType", vec![]).await.unwrap(),
        s("cortex")
    );
    let info = call(&api, "getCellInfo", vec![]).await.unwrap();
    assert_eq!(
        get(get(&info, "cell"), "axon:ready"),
        &Value::Boolean(false)
    );
    assert_eq!(get(get(&info, "cell"), "type"), &s("cortex"));
    let meths = api.methods();
    for name in [
        "addNodes",
        "getModelDict",
        "getCellInfo",
        "addUser",
        "syncLayerNodeEdits",
    ] {
        assert!(meths.iter().any(|m| m.name == name), "{name}");
    }
    assert!(meths.iter().any(|m| m.name == "addNodes" && m.genr));
    // the built-in Storm runtime is installed
    assert!(meths.iter().any(|m| m.name == "storm" && m.genr));
    let msgs = genr(
        &api,
        "storm",
        vec![s("[inet:fqdn=storm.vertex.link] $lib.print(hi)")],
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = msgs
        .iter()
        .map(|m| m.as_array().unwrap()[0].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"init"));
    assert_eq!(kinds.last(), Some(&"fini"));
    assert!(
        kinds.contains(&"node") && kinds.contains(&"print"),
        "{kinds:?}"
    );
    assert_eq!(
        call(&api, "count", vec![s("inet:fqdn=storm.vertex.link")])
            .await
            .unwrap(),
        Value::from(1)
    );
    let valu = call(
        &api,
        "callStorm",
        vec![s("$lib.globals.set(g, (5)) return($lib.globals.get(g))")],
    )
    .await
    .unwrap();
    assert_eq!(valu, Value::from(5));
    assert_eq!(
        call(&api, "getStormVar", vec![s("g")]).await.unwrap(),
        Value::from(5)
    );
    let err = call(&api, "reqValidStorm", vec![s("inet:fqdn=")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadSyntax");
    // edges only between exported nodes, and the key only when there are some (as the
    // reference)
    genr(
        &api,
        "storm",
        vec![s(
            "inet:fqdn=storm.vertex.link [ +(refs)> { [inet:ipv4=1.2.3.4] } ]",
        )],
    )
    .await
    .unwrap();
    let edges_of =
        |pode: &Value| synapse_cell::map_get(&pode.as_array().unwrap()[1], "edges").cloned();
    let alone = genr(&api, "exportStorm", vec![s("inet:fqdn=storm.vertex.link")])
        .await
        .unwrap();
    assert_eq!(alone.len(), 1);
    assert_eq!(edges_of(&alone[0]), None);
    let both = genr(
        &api,
        "exportStorm",
        vec![s("inet:fqdn=storm.vertex.link inet:ipv4=1.2.3.4")],
    )
    .await
    .unwrap();
    assert_eq!(both.len(), 2);
    let edges = edges_of(&both[0]).expect("the fqdn's refs edge");
    let edge = edges.as_array().unwrap()[0].as_array().unwrap().clone();
    assert_eq!(edge[0], s("refs"));
    assert_eq!(edges_of(&both[1]), None);
    assert_eq!(api.classes()[0], "synapse.cortex.CoreApi");

    let items = list(vec![nodedef(
        "inet:fqdn",
        s("feed.vertex.link"),
        tagged("test"),
    )]);
    let res = api
        .call(
            "addFeedData",
            synapse_cell::Args {
                args: vec![s("syn.nodes"), items.clone()],
                kwargs: vec![],
            },
        )
        .await
        .unwrap();
    assert!(matches!(res, synapse_cell::Reply::Value(Value::Nil)));
    let view = core.service().default_view();
    let node = view
        .get_node(buid("inet:fqdn", &s("feed.vertex.link")))
        .await
        .unwrap()
        .unwrap();
    assert!(node.tag("test").is_some());
    let err = call(&api, "addFeedData", vec![s("nope.feed"), items.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchName");
    let err = api
        .call(
            "addFeedData",
            synapse_cell::Args {
                args: vec![s("syn.nodes"), items.clone()],
                kwargs: vec![("viewiden".into(), s("ffffffffffffffffffffffffffffffff"))],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchView");
    let (visi, iden) = user(&core, "visi").await;
    let err = call(&visi, "addFeedData", vec![s("syn.nodes"), items])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert!(
        err.mesg()
            .contains("must have permission feed:data.syn.nodes on object"),
        "{}",
        err.mesg()
    );
    let _ = iden;
}
